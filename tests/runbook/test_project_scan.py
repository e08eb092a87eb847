from __future__ import annotations

import textwrap
from pathlib import Path

from dlpilot.runbook._rules import scan_project
from dlpilot.runbook._rules._propose import task_type
from tests.conftest import EXAMPLE


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


TRAINS = """
    import torch
    def fit(model, opt, loader):
        for x, y in loader:
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
"""


def test_the_example_flags_declared_in_a_loop_take_their_defaults_from_the_config_file():
    scan = scan_project(EXAMPLE)
    assert scan.entry == "train.py"
    flags = {f.dest: f for f in scan.flags}
    assert flags["lr"].default == 3e-3 and flags["lr"].type == "float"
    assert flags["batch_size"].option == "--batch-size" and flags["batch_size"].default == 64
    assert scan.output_flag == "out" and scan.seed_flag == "seed"
    assert scan.metrics == "{trial_dir}/metrics.jsonl"
    assert {"val/acc", "val/loss", "train/loss"} <= set(scan.logged)
    tunable = {f.dest for f in scan.tunable}
    assert {"lr", "dropout", "width", "epochs"} <= tunable
    assert not tunable & {"seed", "out", "config", "resume"}
    assert task_type(scan)[0] == "classification"
    assert scan.splits["train"] and scan.splits["dev"] and scan.splits["test"]


def test_plain_argparse_flags_switches_and_an_output_dir_are_told_apart(tmp_path):
    _write(tmp_path, {
        "helpers.py": "def unused():\n    pass\n",
        "scripts/train_model.py": """
            import argparse
            from helpers import unused
            p = argparse.ArgumentParser()
            p.add_argument("--learning-rate", type=float, default=1e-3, help="peak lr")
            p.add_argument("--hidden-size", type=int, default=128)
            p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
            p.add_argument("--amp", action="store_true")
            p.add_argument("--output-dir", default="outputs/run")
            p.add_argument("data")
            args = p.parse_args()
            if __name__ == "__main__":
                loss.backward(); opt.step()
        """,
    })  # fmt: skip
    scan = scan_project(tmp_path)
    assert scan.entry == "scripts/train_model.py"
    flags = {f.dest: f for f in scan.flags}
    assert flags["learning_rate"].default == 1e-3 and flags["hidden_size"].type == "int"
    assert flags["amp"].type == "switch" and "data" not in flags
    assert scan.output_flag == "output_dir"
    assert {f.dest for f in scan.tunable} == {"learning_rate", "hidden_size", "optimizer"}


def test_click_options_are_read(tmp_path):
    _write(tmp_path, {"train.py": """
        import click
        @click.command()
        @click.option("--lr", type=float, default=0.01)
        @click.option("--epochs", default=5)
        @click.option("--log-dir", default="logs")
        def main(lr, epochs, log_dir):
            loss.backward(); opt.step()
        if __name__ == "__main__":
            main()
    """})  # fmt: skip
    scan = scan_project(tmp_path)
    flags = {f.dest: f for f in scan.flags}
    assert flags["lr"].default == 0.01 and flags["epochs"].type == "int"
    assert scan.output_flag == "log_dir"


def test_a_hydra_config_gives_dotted_overrides(tmp_path):
    _write(tmp_path, {
        "conf/config.yaml": "optim:\n  lr: 0.0003\n  weight_decay: 0.01\nmodel:\n  depth: 4\n",
        "train.py": """
            import hydra
            @hydra.main(config_path="conf", config_name="config", version_base=None)
            def main(cfg):
                loss.backward(); opt.step()
            if __name__ == "__main__":
                main()
        """,
    })  # fmt: skip
    scan = scan_project(tmp_path)
    flags = {f.dest: f for f in scan.flags}
    assert flags["optim.lr"].default == 0.0003 and flags["optim.lr"].option == "optim.lr="
    assert flags["model.depth"].type == "int"


def test_a_project_without_a_training_script_says_so(tmp_path):
    _write(tmp_path, {"lib.py": "def f():\n    return 1\n"})
    scan = scan_project(tmp_path)
    assert scan.entry is None and "no script" in scan.entry_reason


def test_the_task_type_follows_the_loss(tmp_path):
    main = "\nif __name__ == '__main__':\n    fit(1, 2, 3)\n"
    _write(tmp_path, {"train.py": textwrap.dedent(TRAINS) + main})
    scan = scan_project(tmp_path)
    assert task_type(scan)[0] == "regression"
    assert "mse_loss" in task_type(scan)[1]


def test_only_dicts_handed_to_a_call_count_as_logged_metrics(tmp_path):
    _write(tmp_path, {"train.py": """
        import json, torch
        def main():
            state = {"best_val": 0.1, "train_loss_sum": 3.0}
            torch.save(state, "ckpt.pt")
            print(json.dumps({"step": 1, "val_acc": 0.9, "train_loss": 0.2}))
            loss.backward(); opt.step()
        if __name__ == "__main__":
            main()
    """})  # fmt: skip
    assert scan_project(tmp_path).logged == ["train/loss", "val/acc"]


def test_a_plain_top_level_script_is_an_entry_and_a_dict_row_it_dumps_is_logged(tmp_path):
    # nanoGPT style: no __main__ block; metrics kept in a dict, then written with json.dumps
    _write(tmp_path, {"train.py": """
        import argparse, json, torch
        p = argparse.ArgumentParser(); p.add_argument("--lr", type=float, default=0.01)
        a = p.parse_args()
        for epoch in range(3):
            loss.backward(); opt.step()
            row = {"step": epoch, "train_loss": 1.0, "val_loss": 2.0}
            print(json.dumps(row))
        state = {"val_best": 1.0}
        torch.save(state, "ckpt.pt")
    """})  # fmt: skip
    scan = scan_project(tmp_path)
    assert scan.entry == "train.py"
    assert scan.logged == ["train/loss", "val/loss"]
