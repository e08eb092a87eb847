"""Commands as people type them: torchrun on two CPU ranks (gloo, DDP), bash, make and env, each
with the probe in every Python process it starts: real launchers, real child processes, torch."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dlpilot.tools.checks.project import check_project

pytestmark = pytest.mark.slow

DDP = """\
import os
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

dist.init_process_group("gloo")
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
model = nn.parallel.DistributedDataParallel(net)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
g = torch.Generator().manual_seed(dist.get_rank())
x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
for step in range(100_000):
    {zero}
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
dist.destroy_process_group()
"""

PLAIN = """\
import os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
m = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(m.parameters(), lr=float(os.environ["TRAIN_LR"]))
x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
for _ in range(int(os.environ.get("TRAIN_STEPS", "30"))):
    opt.zero_grad()
    F.cross_entropy(m(x), y).backward()
    opt.step()
"""


def test_torchrun_on_two_cpu_ranks_is_checked_and_the_evidence_names_rank_0(tmp_path):
    (tmp_path / "train.py").write_text(DDP.format(zero="pass  # no zero_grad"))
    report = check_project(
        ["torchrun", "--nproc_per_node=2", "train.py"],
        cwd=tmp_path,
        entry=False,
        steps=10,
        overfit=False,
        timeout_s=120,
    )
    assert report.error is None
    script = report.script
    assert script is not None and script.launcher == "torchrun"
    assert script.steps_observed == 20  # --steps 10 over 2 epochs, honoured without a DataLoader
    ranks = sorted(p.rank for p in script.processes if p.rank is not None)
    assert ranks == [0, 1]
    assert [p.rank for p in script.processes if p.primary] == [0]
    found = [f for f in report.findings if f.id == "loop.zero-grad-missing"]
    assert found, [f.id for f in report.findings]
    assert "rank 0" in str(found[0].evidence[0].detail.get("process"))
    assert "train.py" in script.inspected_files


def test_a_launcher_that_trains_nowhere_is_not_checked_never_a_clean_pass(tmp_path):
    (tmp_path / "run.sh").write_text("python -c 'import torch; print(\"only a download\")'\n")
    report = check_project(["bash", "run.sh"], cwd=tmp_path, entry=False, timeout_s=60)
    assert report.error is not None and "never reached a training step" in report.error
    assert "only a download" in report.error
    assert report.script is not None and report.script.steps_observed == 0


def test_bash_make_and_env_run_the_script_with_the_probe_and_the_variables(tmp_path):
    (tmp_path / "train.py").write_text(PLAIN)
    (tmp_path / "run.sh").write_text("set -e\nTRAIN_LR=0.1 python train.py\n")
    (tmp_path / "Makefile").write_text("train:\n\tenv TRAIN_LR=0.1 python train.py\n")
    for argv in (
        ["bash", "run.sh"],
        ["make", "train"],
        ["env", "TRAIN_LR=0.1", sys.executable, "train.py"],
    ):
        report = check_project(argv, cwd=tmp_path, entry=False, overfit=False, timeout_s=60)
        assert report.error is None, (argv, report.error)
        assert report.script is not None and report.script.steps_observed == 30, argv
        assert report.script.inspected_files == ["train.py"], argv


def test_a_variable_the_sandbox_dropped_is_named_with_the_option_that_passes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "train.py").write_text(PLAIN)
    monkeypatch.setenv("TRAIN_LR", "0.1")
    dropped = check_project(["python", "train.py"], cwd=tmp_path, entry=False, overfit=False)
    assert dropped.script is not None and dropped.script.dropped_env == ["TRAIN_LR"]
    assert dropped.error is not None and "--pass-env TRAIN_LR" in dropped.error
    for options in ({"pass_env": ["TRAIN_LR"]}, {"env": {"TRAIN_LR": "0.05"}}):
        passed = check_project(
            ["python", "train.py"], cwd=tmp_path, entry=False, overfit=False, **options
        )
        assert passed.error is None, options
        assert passed.script is not None and passed.script.steps_observed == 30


DEFAULTED = """\
import os
import torch

root = os.environ.get("TRAIN_DATA_ROOT")
x = torch.load(os.path.join(root, "x.pt"))
"""


def test_a_dropped_variable_read_with_a_default_is_named_when_the_script_then_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "train.py").write_text(DEFAULTED)
    monkeypatch.setenv("TRAIN_DATA_ROOT", str(tmp_path))
    report = check_project(["python", "train.py"], cwd=tmp_path, entry=False, overfit=False)
    assert report.script is not None and report.script.dropped_env == ["TRAIN_DATA_ROOT"]
    assert report.error is not None and "--pass-env TRAIN_DATA_ROOT" in report.error


FAKE_ACCELERATE = '''\
#!{python}
"""Stands in for `accelerate launch` (not installed here) the way its one-process launcher runs:
the launcher imports torch, then runs the script in a child Python and exits with its status."""
import subprocess
import sys

import torch  # noqa: F401

args = sys.argv[1:]
assert args[0] == "launch", args
args = args[1:]
while args and args[0].startswith("--"):
    args = args[1:]
sys.exit(subprocess.call([sys.executable, *args]))
'''


def test_accelerate_launch_runs_as_typed_with_the_probe_in_the_script_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "accelerate"
    fake.write_text(FAKE_ACCELERATE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "train.py").write_text(PLAIN.replace("    opt.zero_grad()\n", ""))
    report = check_project(
        ["accelerate", "launch", "--num_processes=1", "train.py"],
        cwd=tmp_path,
        env={"TRAIN_LR": "0.1"},
        entry=False,
        overfit=False,
        timeout_s=90,
    )
    assert report.error is None, report.error
    script = report.script
    assert script is not None and script.launcher == "accelerate"
    assert script.steps_observed == 30
    assert [p.steps for p in script.processes if p.primary] == [30]
    assert len(script.processes) == 2  # the launcher imported torch too, and took no step
    found = [f for f in report.findings if f.id == "loop.zero-grad-missing"]
    assert found and any(e.how == "runtime" for e in found[0].evidence)
