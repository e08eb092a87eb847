"""Framework-style programs under ``dlpilot check`` (real child runs).

A Lightning ``Trainer`` is bounded through its own limits, so validation runs in each bounded
epoch and callbacks that monitor a validation metric see it (``EarlyStopping(monitor="val_loss")``
used to crash the check); Lightning's ``optimizer.step(closure)`` is checked once the closure has
computed the gradients; HF-style, accelerate-style and trainer-class programs stay clean.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dlpilot.tools.checks import check_script

from ._framework_programs import CORRECT, FRAMEWORKS, lightning_twin

pytestmark = pytest.mark.slow

PROBE_TIMEOUT_S = 240
"""A tiny CPU program under the probe; generous for a loaded CI machine."""


@pytest.mark.parametrize("program", CORRECT)
def test_a_correct_framework_style_program_raises_no_runtime_finding(
    program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    shutil.copy(FRAMEWORKS / program, tmp_path / "train.py")
    report = check_script(
        ["python", "train.py"], cwd=tmp_path, static=False, overfit=False, timeout_s=240
    )
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []


def _probe_summary(tmp_path: Path, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (tmp_path / "train.py").write_text(source)
    out = tmp_path / "events.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "dlpilot.sandbox.probe", "--out", str(out), "--", "train.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in out.read_text().splitlines()]
    [end] = [e for e in events if e["ev"] == "end"]
    summary = [e for e in events if e["ev"] == "summary"][-1]
    return end, summary


def test_a_lightning_fit_is_bounded_by_its_own_limits_and_validates_every_epoch(
    tmp_path: Path,
) -> None:
    end, s = _probe_summary(tmp_path, (FRAMEWORKS / "lit_classifier.py").read_text())
    assert end["reason"] == "finished"  # Lightning ended the fit itself, at the bounded epochs
    train = [ld for ld in s["loaders"] if ld["kind"] == "train"]
    val = [ld for ld in s["loaders"] if ld["kind"] == "val"]
    assert len(train) == 1 and len(val) == 1
    assert train[0]["epochs"] == 2 and train[0]["batches"] == 40  # 2 epochs x 20 batches
    assert val[0]["epochs"] >= 3  # the sanity check, then one validation per epoch
    # automatic optimization: every step saw its backward (inside the closure) and was checked
    assert s["steps"] == 40 and s["backwards"] == 40
    assert s["loop"]["steps_without_backward"] == 0
    assert s["loop"]["step_checks"] > 0
    roles = {b["role"]: b for b in s["buckets"]}
    assert roles["val"]["grad"] == 0 and roles["val"]["train_mode"] == 0
    assert roles["train"]["grad"] == roles["train"]["n"] == 40
    # the epoch scheduler stepped twice (interval "epoch"), not per batch
    assert s["optimizers"][0]["lr"] == [pytest.approx(1e-3 * 0.9**2)]


def test_bugs_inside_a_lightning_module_are_caught_at_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "train.py").write_text(lightning_twin("softmax_before_cross_entropy"))
    report = check_script(
        ["python", "train.py"], cwd=tmp_path, static=False, overfit=False, timeout_s=240
    )
    assert report.exception is None, report.exception
    assert "loss.softmax-before-ce" in {f.id for f in report.findings}


def test_lightning_manual_optimization_counts_one_step_per_accumulated_pair(
    tmp_path: Path,
) -> None:
    end, s = _probe_summary(tmp_path, (FRAMEWORKS / "lit_manual.py").read_text())
    assert end["reason"] == "finished"
    # 2 bounded epochs x 20 batches, manual_backward on each, a step every second batch
    assert s["backwards"] == 40 and s["steps"] == 20
    assert s["loop"]["steps_without_backward"] == 0
    assert s["loop"]["not_zeroed"] == 0 and s["loop"]["cleared"] == 0
    assert [ld["kind"] for ld in s["loaders"]].count("val") == 1
