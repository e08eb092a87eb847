"""A whole round with the rules on a plain top-level training script (no __main__ block, metrics
written as a dict through json.dumps, the split made by slicing), its trials launched for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TRAIN_MLP

SCRIPT = TRAIN_MLP

pytestmark = pytest.mark.slow


def test_a_round_with_the_rules_launches_real_trials_and_decides(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(SCRIPT, project / "train.py")
    out = tmp_path / "out"
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # `python` on PATH is not dlpilot's: no matter
    done = subprocess.run(
        [sys.executable, "-m", "dlpilot", "round", str(project), "--agent", "rules",
         "--launch", "--trials", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bottleneck"] and summary["main_goal"] and summary["next_goal"]
    assert summary["best"] is not None and summary["best"]["value"] > 0
    assert isinstance(summary["decision"]["promote"], bool) and summary["decision"]["reason"]
    assert Path(summary["round_file"]).is_file()
    assert (out / "report.md").read_text().strip()
