"""The shipped examples through the real CLI, as a user runs them: the correct project is clean,
the broken one has every planted bug reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow

EXAMPLES = REPO / "examples"


def _check(example: str, *args: str) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "dlpilot", "check", "--json", "--", "python", "train.py", *args],
        cwd=EXAMPLES / example,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out.returncode, json.loads(out.stdout)


def test_every_bug_planted_in_the_broken_example_is_reported_with_runtime_evidence():
    code, report = _check("broken_classifier")
    assert code == 1
    by_id = {f["id"]: f for f in report["findings"]}
    for planted in (
        "loss.softmax-before-ce",
        "loop.zero-grad-missing",
        "mode.eval-during-training",
        "mode.eval-grad-enabled",
    ):
        assert planted in by_id, sorted(by_id)
        assert any(e["how"] == "runtime" for e in by_id[planted]["evidence"]), planted
    # softmax before cross-entropy fits the batch (accuracy) but leaves the loss on a floor far
    # above 0: the overfit test does not pass it
    overfit = report["script"]["overfit"]
    assert overfit["verdict"] != "passed", overfit["reason"]


def test_the_static_inspection_of_the_broken_example_names_the_planted_lines():
    out = subprocess.run(
        [sys.executable, "-m", "dlpilot", "inspect", "--json", str(EXAMPLES / "broken_classifier")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    source = (EXAMPLES / "broken_classifier" / "train.py").read_text().splitlines()
    bug_lines = {i + 1 for i, text in enumerate(source) if "# BUG" in text}
    found = json.loads(out.stdout)["findings"]
    static_lines = {e["line"] for f in found if f["severity"] == "error" for e in f["evidence"]}
    assert out.returncode == 1
    assert static_lines & bug_lines, (static_lines, bug_lines)
