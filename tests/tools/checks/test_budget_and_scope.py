"""--steps without a DataLoader, --timeout as the whole check's budget, and the static pass over
every file the run executed under the repository root: real probe children, real torch."""

from __future__ import annotations

import json
import time

import pytest

from dlpilot.cli import main
from dlpilot.tools.checks.project import check_project

pytestmark = pytest.mark.slow

NO_LOADER = """\
import time
import torch
import torch.nn.functional as F

torch.manual_seed(0)
m = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(m.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
for _ in range(100_000):
    opt.zero_grad()
    F.cross_entropy(m(x), y).backward()
    opt.step()
    time.sleep({pause})
"""


def test_steps_bound_a_script_without_a_dataloader(tmp_path):
    (tmp_path / "train.py").write_text(NO_LOADER.format(pause=0))
    report = check_project(
        ["python", "train.py"], cwd=tmp_path, entry=False, steps=7, overfit=False
    )
    assert report.script is not None
    assert report.script.steps_observed == 14  # 7 a "epoch", 2 epochs; not the default 200


def test_the_timeout_is_the_budget_of_the_whole_check_not_of_each_run(tmp_path):
    (tmp_path / "train.py").write_text(NO_LOADER.format(pause=0.1))
    started = time.monotonic()
    report = check_project(["python", "train.py"], cwd=tmp_path, entry=False, timeout_s=20)
    took = time.monotonic() - started
    assert report.script is not None and report.script.overfit is not None
    assert took < 20 * 1.2, took  # both runs inside one budget (each used to get all of it)


LIB = """\
import torch.nn.functional as F


def fit(model, opt, x, y, steps):
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
"""

RUN = """\
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import torch
from mylib.trainer import fit

torch.manual_seed(0)
m = torch.nn.Linear(4, 3)
fit(m, torch.optim.SGD(m.parameters(), lr=0.1), torch.randn(16, 4), torch.randint(0, 3, (16,)), 50)
"""


def test_files_run_outside_the_working_directory_are_inspected_with_repository_paths(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text("")
    (tmp_path / "mylib" / "trainer.py").write_text(LIB)
    adder = tmp_path / "projects" / "adder"
    adder.mkdir(parents=True)
    (adder / "run.py").write_text(RUN)
    report = check_project(["python", "run.py"], cwd=adder, entry=False, overfit=False)
    assert report.script is not None
    assert "mylib/trainer.py" in report.script.inspected_files
    assert "projects/adder/run.py" in report.script.inspected_files
    files = {ev.file for f in report.findings for ev in f.evidence if ev.file}
    assert "mylib/trainer.py" in files, files
    assert not any(f.startswith("/") for f in files), files
    static = [
        ev
        for f in report.findings
        for ev in f.evidence
        if ev.how == "static" and ev.file == "mylib/trainer.py"
    ]
    assert static, report.findings


def test_json_is_one_object_with_the_error_when_the_command_cannot_start(tmp_path, capsys):
    status = main(["check", "--json", "--cwd", str(tmp_path), "--", "bash", "missing.sh"])
    out = json.loads(capsys.readouterr().out)
    assert status == 2 and "missing.sh" in out["error"]
    (tmp_path / "run.sh").write_text("echo no training here\n")
    status = main(["check", "--json", "--cwd", str(tmp_path), "--", "bash", "run.sh"])
    out = json.loads(capsys.readouterr().out)
    assert status == 2 and "never reached a training step" in out["error"]
