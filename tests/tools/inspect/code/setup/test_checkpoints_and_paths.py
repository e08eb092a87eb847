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
    for save in (inline, variable, helper, split_files, fabric):
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
