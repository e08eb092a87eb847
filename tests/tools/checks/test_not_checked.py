"""A script that never reaches a training step is reported as not checked, with the reason:
real probe children, real torch."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dlpilot.tools.checks.project import check_project

pytestmark = pytest.mark.slow

IMPORTS = "import sys, time\nimport torch\n"


def _check(tmp_path: Path, source: str, **options: object):
    (tmp_path / "train.py").write_text(source)
    return check_project(["python", "train.py"], cwd=tmp_path, entry=False, **options)


def test_a_hanging_script_is_not_checked_says_it_timed_out_and_costs_one_timeout(tmp_path):
    started = time.monotonic()
    report = _check(
        tmp_path, IMPORTS + "print('loading the data', flush=True)\ntime.sleep(600)\n", timeout_s=10
    )
    took = time.monotonic() - started
    assert report.error is not None and "never reached a training step" in report.error
    assert "timeout" in report.error and "loading the data" in report.error
    assert report.script is not None and report.script.overfit is not None
    assert report.script.overfit.verdict == "inconclusive"  # the overfit run was not started
    assert "never reached a training step" in report.script.overfit.reason
    assert took < 10 * 1.3, took  # the timeout is the whole check's budget


def test_a_script_exiting_with_an_error_code_before_training_says_the_code_and_last_lines(
    tmp_path,
):
    report = _check(tmp_path, IMPORTS + "print('no GPU found', file=sys.stderr)\nsys.exit(3)\n")
    assert report.error is not None
    assert "code 3" in report.error and "no GPU found" in report.error


def test_a_script_out_of_memory_before_training_says_out_of_memory(tmp_path):
    report = _check(tmp_path, IMPORTS + "raise MemoryError('cannot allocate the data cache')\n")
    assert report.error is not None
    assert "MemoryError" in report.error and "cannot allocate the data cache" in report.error


def test_a_script_that_trains_is_checked(tmp_path):
    source = IMPORTS + (
        "m = torch.nn.Linear(4, 2)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))\n"
        "for _ in range(5):\n"
        "    opt.zero_grad()\n"
        "    torch.nn.functional.cross_entropy(m(x), y).backward()\n"
        "    opt.step()\n"
    )
    report = _check(tmp_path, source, overfit=False)
    assert report.error is None
    assert report.script is not None and report.script.not_checked is None
