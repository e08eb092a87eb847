from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import hits, ids

LOOP = """
import torch
torch.manual_seed(0)
for x, y in train_loader:
    opt.zero_grad()
    loss = crit(model(x), y)
    loss.backward()
    opt.step()
"""


def test_saving_only_the_model_weights_is_an_incomplete_checkpoint() -> None:
    save = """
    def save(model, epoch):
        torch.save(model.state_dict(), f"model_{epoch}.pt")
    """
    assert hits({"train.py": LOOP, "ckpt.py": save}, "ckpt.incomplete") == [("ckpt.py", 3)]


def test_a_dict_without_optimizer_state_is_incomplete() -> None:
    save = """
    torch.save({"model": model.state_dict(), "epoch": epoch}, "last.pt")
    """
    found = [
        f
        for f in __import__("tests.tools.inspect.code.setup._helpers", fromlist=["run"]).run(
            {"train.py": LOOP, "ckpt.py": save}
        )
        if f.id == "ckpt.incomplete"
    ]
    assert len(found) == 1
    assert found[0].evidence[0].detail["missing"] == ["optimizer"]


def test_a_full_checkpoint_dict_is_complete_inline_through_a_variable_or_a_helper() -> None:
    inline = """
    torch.save({"model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(), "epoch": epoch}, path)
    """
    variable = """
    def save(path):
        state = {"net": net.state_dict(), "epoch": epoch}
        state["optimizer"] = optimizer.state_dict()
        torch.save(state, path)
    """
    helper = """
    save_checkpoint({"epoch": epoch + 1, "arch": arch, "state_dict": model.state_dict(),
                     "best_acc1": best_acc1, "optimizer": optimizer.state_dict()}, is_best)
    """
    split_files = """
    torch.save(model.state_dict(), f"ckpt/model_{step}.pt")
    torch.save(optimizer.state_dict(), f"ckpt/optim_{step}.pt")
    """
    fabric = """
    state = {"model": model, "optimizer": optimizer, "iteration": it}
    fabric.save("ckpt.pt", state)
    """
    gan = """
    torch.save({"G": netG.state_dict(), "D": netD.state_dict(), "optG": optG.state_dict(),
                "optD": optD.state_dict(), "epoch": epoch}, "gan.pt")
    """
    for save in (inline, variable, helper, split_files, fabric, gan):
        found = ids({"train.py": LOOP, "ckpt.py": save})
        assert "ckpt.incomplete" not in found and "ckpt.none" not in found, save


def test_a_best_weights_export_next_to_a_full_checkpoint_is_fine() -> None:
    save = """
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": e}, "a.pt")
    torch.save(model.state_dict(), "best.pt")
    """
    assert "ckpt.incomplete" not in ids({"train.py": LOOP, "ckpt.py": save})


def test_an_existing_scheduler_must_be_saved_too() -> None:
    save = """
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": e}, "a.pt")
    """
    assert hits({"train.py": LOOP, "ckpt.py": save}, "ckpt.incomplete") == [("ckpt.py", 3)]


def test_no_save_at_all_is_ckpt_none_and_saving_without_loading_is_no_resume() -> None:
    assert "ckpt.none" in ids({"train.py": LOOP})
    full = """
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": e}, "a.pt")
    """
    found = ids({"train.py": LOOP, "ckpt.py": full})
    assert "ckpt.none" not in found and "ckpt.no-resume" in found
    resume = (
        full
        + """
    if args.resume:
        ckpt = torch.load(args.resume)
    """
    )
    assert "ckpt.no-resume" not in ids({"train.py": LOOP, "ckpt.py": resume})


def _ckpt(files: dict[str, str]) -> list[tuple[str, str, int]]:
    from tests.tools.inspect.code.setup._helpers import run

    return [
        (f.id, f.evidence[0].file or "", f.evidence[0].line or 0)
        for f in run(files)
        if f.id.startswith("ckpt.")
    ]


def test_a_save_in_a_callback_the_trainer_calls_per_batch_runs_during_training() -> None:
    # minGPT's adder: the trainer calls batch_end_callback after every batch, which saves the
    # weights whenever the score improves; a save during training, just not a resumable one
    callback = """
    import torch
    from mygpt.trainer import Trainer

    def main():
        trainer = Trainer(config, model, train_dataset)

        def on_batch(trainer):
            if trainer.iter_num % 500 == 0:
                score = evaluate(model)
                torch.save(model.state_dict(), "model.pt")

        trainer.set_callback("on_batch_end", on_batch)
        trainer.run()
    """
    trainer = """
    class Trainer:
        def run(self):
            while True:
                loss = self.model(*next(self.data))
                self.model.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                for fn in self.callbacks["on_batch_end"]:
                    fn(self)
    """
    files = {"train.py": callback, "mygpt/trainer.py": trainer}
    saves = [c for c in _ckpt(files) if c[0] != "ckpt.no-resume"]
    assert saves == [("ckpt.incomplete", "train.py", 11)]
    # the same save in a function nobody registers or loops over is the final export
    plain = callback.replace('        trainer.set_callback("on_batch_end", on_batch)\n', "")
    plain = plain.replace(
        "        trainer.run()", "        trainer.run()\n        on_batch(trainer)"
    )
    assert "ckpt.none" in [i for i, _, _ in _ckpt({**files, "train.py": plain})]


def test_a_weights_export_after_training_is_no_checkpoint_not_an_incomplete_one() -> None:
    after_loop = """
    import torch
    torch.manual_seed(0)
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
    torch.save(model.state_dict(), "model.pt")
    """
    assert _ckpt({"train.py": after_loop}) == [("ckpt.none", "train.py", 9)]
    in_main = """
    import torch
    from engine import train_one_epoch

    def main():
        for epoch in range(3):
            train_one_epoch(model, opt, loader)
        export(model)

    def export(model):
        torch.jit.save(torch.jit.script(model), "model.ts")
    """
    assert _ckpt({"train.py": LOOP, "main.py": in_main}) == [("ckpt.none", "main.py", 11)]


def test_weights_saved_during_training_are_an_incomplete_checkpoint() -> None:
    best_in_loop = """
    import torch
    best = 0.0
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        acc = evaluate(model)
        if acc > best:
            best = acc
            torch.save(model.state_dict(), "best.pt")
    """
    assert ("ckpt.incomplete", "train.py", 12) in _ckpt({"train.py": best_in_loop})
    called_in_loop = """
    import torch

    def keep(model):
        torch.save(model.state_dict(), "last.pt")

    for epoch in range(10):
        train_epoch()
        keep(model)
    """
    assert ("ckpt.incomplete", "b.py", 5) in _ckpt({"train.py": LOOP, "b.py": called_in_loop})
    helper = """
    import torch

    class Trainer:
        def save_checkpoint(self, path):
            torch.save(self.model.state_dict(), path)
    """
    assert ("ckpt.incomplete", "t.py", 6) in _ckpt({"train.py": LOOP, "t.py": helper})


def test_a_library_checkpoint_helper_counts_as_saving() -> None:
    src = """
    from utils import save_checkpoint
    for epoch in range(3):
        save_checkpoint(model, optimizer, epoch, "ckpt.pt")
    """
    found = [i for i, _, _ in _ckpt({"train.py": LOOP, "run.py": src})]
    assert "ckpt.none" not in found and "ckpt.incomplete" not in found


def test_saving_data_tensors_is_not_a_checkpoint() -> None:
    save = "torch.save(features, 'cache.pt')\n"
    assert "ckpt.incomplete" not in ids({"train.py": LOOP, "cache.py": save})


# --- repo.hardcoded-paths ------------------------------------------------------------------


def test_machine_specific_absolute_paths_are_reported() -> None:
    src = """
    DATA = "/home/alice/datasets/cifar"
    OUT = r"C:\\Users\\bob\\runs"
    MAC = f"/Users/carol/data/{name}"
    DRIVE = "/content/drive/MyDrive/ckpt"
    """
    assert hits({"cfg.py": src}, "repo.hardcoded-paths") == [
        ("cfg.py", 2),
        ("cfg.py", 3),
        ("cfg.py", 4),
        ("cfg.py", 5),
    ]


def test_portable_paths_urls_comments_and_docstrings_are_fine() -> None:
    src = '''
    """Data lives in /home/alice/data on the author's box."""
    # old: /home/alice/data
    A = "/tmp/cache"
    B = "/dev/null"
    C = os.path.expanduser("~/data")
    D = "https://example.com/home/alice/x"
    E = "data/train"
    F = "/mnt/data/imagenet"
    G = "C:"
    '''
    assert hits({"cfg.py": src}, "repo.hardcoded-paths") == []


def test_paths_in_tests_are_not_reported() -> None:
    assert hits({"tests/test_cfg.py": 'P = "/home/alice/x"\n'}, "repo.hardcoded-paths") == []


def test_bare_location_prefixes_name_no_machine_and_are_fine() -> None:
    # a tool that recognizes such paths lists their prefixes; a prefix alone is no path
    src = """
    PREFIXES = ("/root/", "/scratch/", "/gpfs/", "/lustre/", "/content/drive/", "/home/")
    ROOT_DATA = "/root/data/train.csv"
    """
    assert hits({"paths.py": src}, "repo.hardcoded-paths") == [("paths.py", 3)]


SCRATCH_BEST = """
import tempfile, os
import torch
torch.manual_seed(0)
best = float("inf")
with tempfile.TemporaryDirectory() as tmp:
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        if val_loss(model) < best:
            best = val_loss(model)
            torch.save(model.state_dict(), os.path.join(tmp, "best.pt"))
    model.load_state_dict(torch.load(os.path.join(tmp, "best.pt")))
"""


def test_a_save_into_a_temporary_directory_is_scratch_not_a_checkpoint() -> None:
    # the file is deleted when the block ends: nothing survives a crash, so no checkpoint at all
    assert _ckpt({"train.py": SCRATCH_BEST}) == [("ckpt.none", "train.py", 14)]


def test_a_save_next_to_the_temporary_directory_is_still_judged() -> None:
    kept = SCRATCH_BEST.replace(
        "        if val_loss",
        '        torch.save(model.state_dict(), f"e{epoch}.pt")\n        if val_loss',
    )
    found = _ckpt({"train.py": kept})
    assert ("ckpt.incomplete", "train.py", 12) in found and (
        "ckpt.none",
        "train.py",
        15,
    ) not in found


FULL_SAVE = """
torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": e}, "a.pt")
"""


def test_the_word_resume_without_a_load_is_no_resume_path() -> None:
    unused_helper = """
    def summarize(history):
        resume = ", ".join(f"{k}={v:.3f}" for k, v in history.items())  # a summary, not a restart
        return resume
    """
    found = ids({"train.py": LOOP, "ckpt.py": FULL_SAVE, "report.py": unused_helper})
    assert "ckpt.no-resume" in found


def test_loading_a_checkpoint_to_resume_in_any_common_style_is_a_resume_path() -> None:
    styles = [
        """
        if args.resume:
            ckpt = torch.load(args.resume, map_location="cpu")
            model.load_state_dict(ckpt["model"])
        """,
        """
        resume_path = cfg.get("resume_from")
        if resume_path is not None:
            print("loading", resume_path)
            state = torch.load(resume_path)
        """,
        """
        state = torch.load(path)
        optimizer.load_state_dict(state["optimizer"])
        """,
        """
        trainer.fit(model, datamodule=dm, ckpt_path=args.ckpt)
        """,
        """
        trainer.train(resume_from_checkpoint=True)
        """,
        """
        accelerator.load_state(args.output_dir)
        """,
    ]
    for style in styles:
        found = ids({"train.py": LOOP, "ckpt.py": FULL_SAVE, "resume.py": style})
        assert "ckpt.no-resume" not in found, style
