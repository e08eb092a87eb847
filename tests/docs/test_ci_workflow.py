"""The CI workflow of docs/ci parses, and every dlpilot command it runs exists with its flags."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from dlpilot.cli import _parser

WORKFLOW = Path(__file__).resolve().parents[2] / "docs" / "ci" / "dlpilot-round.yml"


def _steps() -> list[dict]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert data["name"] and data[True]["schedule"]  # YAML 1.1 reads the key `on` as True
    return [step for job in data["jobs"].values() for step in job["steps"]]


def _dlpilot_commands() -> list[str]:
    lines = []
    for step in _steps():
        for line in str(step.get("run", "")).splitlines():
            line = line.strip()
            if line.startswith("dlpilot "):
                lines.append(line)
    return lines


def test_the_workflow_runs_a_round_posts_the_report_and_keeps_the_artifacts():
    steps = _steps()
    assert any("round" in c and "--launch" in c for c in _dlpilot_commands())
    assert any("GITHUB_STEP_SUMMARY" in str(s.get("run", "")) for s in steps)
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert "round-out/" in upload["with"]["path"]


@pytest.mark.parametrize("line", _dlpilot_commands())
def test_each_dlpilot_command_of_the_workflow_parses(line):
    text = re.sub(r'"\$\w+"|\$\{\{[^}]*\}\}', "20", line)
    argv = shlex.split(text)[1:]
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"`{line}` is not a valid dlpilot command (exit {exc.code})")
    assert args.command in {"round", "runbook", "inspect", "check", "curves"}
