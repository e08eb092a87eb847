"""The ``dlpilot`` command's exit statuses, as scripts and CI see them."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _dlpilot(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpilot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_script_that_fails_before_training_means_nothing_was_checked(tmp_path):
    (tmp_path / "train.py").write_text("raise ValueError('no data at /data/x')\n")
    out = _dlpilot("check", "--", "python", "train.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "ValueError: no data at /data/x" in out.stderr


def test_a_missing_path_or_script_is_exit_status_2_naming_it(tmp_path):
    assert _dlpilot("inspect", str(tmp_path / "nope"), cwd=tmp_path).returncode == 2
    out = _dlpilot("check", "--", "python", "nope.py", cwd=tmp_path)
    assert out.returncode == 2 and "'nope.py'" in out.stderr


def test_a_clean_inspection_is_exit_status_0(tmp_path):
    (tmp_path / "util.py").write_text("def add(a, b):\n    return a + b\n")
    assert _dlpilot("inspect", str(tmp_path), cwd=tmp_path).returncode == 0


def test_curves_of_several_runs_rank_them_and_show_each_runs_findings(tmp_path):
    import json

    runs = tmp_path / "runs"
    for name, final in (("good", 0.1), ("stuck", 0.6931)):
        (runs / name).mkdir(parents=True)
        rows = []
        for step in range(0, 400, 10):
            loss = final + (0.7 - final) * 0.99**step
            acc = 0.5 if name == "stuck" else 0.97 - 0.4 * 0.99**step
            rows.append({"step": step, "train_loss": loss, "val_loss": loss * 1.05, "val_acc": acc})
        (runs / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = _dlpilot("curves", str(runs), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "ranked by their best val/" in text
    assert text.index("1. good") < text.index("2. stuck")
    assert "verdict of run 'good'" in text
    stuck_block = text[text.index("run stuck") :]
    assert "[curve.high-bias]" in stuck_block and "never learned" in stuck_block
