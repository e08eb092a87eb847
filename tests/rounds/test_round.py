from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dlpilot.cli import main
from dlpilot.findings import finding
from dlpilot.rounds import FakeLauncher, RulesAgent, walk_round, write_outputs
from dlpilot.runbook import Runbook
from dlpilot.tools.trials import load_round
from tests.conftest import EXAMPLE

SUMMARY_KEYS = {"round", "bottleneck", "main_goal", "round_file", "best", "decision", "next_goal",
                "findings"}  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "glyph"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("runs", ".dlpilot"))
    return root


def _round(project: Path, launcher: FakeLauncher, out: Path, **kw) -> dict:
    outcome = walk_round(project, agent=RulesAgent(), launcher=launcher, **kw)
    out_dir, _ = write_outputs(Runbook(project), outcome, out)
    return json.loads((out_dir / "summary.json").read_text())


def test_a_whole_round_on_the_example_ends_with_a_diagnosis_a_decision_and_the_next_goal(
    project, tmp_path
):
    launcher = FakeLauncher()
    summary = _round(project, launcher, tmp_path / "out1", launch=True, trials_cap=6)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["round"] == 1 and summary["bottleneck"] == "variance"
    assert "dropout" in summary["main_goal"]
    assert summary["decision"]["promote"] is True and "seed spread" in summary["decision"]["reason"]
    assert summary["next_goal"]
    round_file = load_round(summary["round_file"])
    assert round_file.trials == 6 and round_file.work_dir == project.resolve()
    assert round_file.command.startswith("python train.py ")
    assert "--out {trial_dir}" in round_file.command and "--seed {seed}" in round_file.command
    assert [r.split()[0] for r in launcher.runs] == ["check", "baseline", "trials"]
    report = (tmp_path / "out1" / "report.md").read_text()
    for words in ("Bottleneck: variance", "## Decision (step 9)", "Next goal", "curves.png"):
        assert words in report
    assert (tmp_path / "out1" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out1" / "round.toml").is_file()

    # the second round starts from the first one's decision, at step 4, with no baseline run
    second = _round(project, FakeLauncher(), tmp_path / "out2", launch=True, trials_cap=6)
    state = Runbook(project).state()
    assert second["round"] == 2 and [r.number for r in state.rounds] == [1, 2, 3]
    promoted = state.rounds[0].decision["new_baseline"]
    assert state.rounds[1].baseline["config"]["dropout"] == promoted["dropout"]
    r2_study = state.rounds[1].answers[6].answer
    assert r2_study["params"]["dropout"]["low"] == pytest.approx(promoted["dropout"], rel=1e-3)
    assert r2_study["sampler"] == "tpe"  # the same question again: exploitation
    assert state.rounds[1].answers[4].evidence[-1] != state.rounds[0].answers[4].evidence[-1]


def test_without_launch_the_round_stops_with_the_round_file_ready(project, tmp_path):
    launcher = FakeLauncher()
    summary = _round(project, launcher, tmp_path / "out")
    assert summary["stopped_at"] == 8 and summary["decision"]["promote"] is None
    assert Path(summary["round_file"]).is_file()
    assert "trials" not in " ".join(launcher.runs)


def test_a_round_on_broken_training_code_stops_with_the_bugs_as_the_bottleneck(project, tmp_path):
    bug = finding("loop.zero-grad-missing", "gradients never cleared", how="runtime", step=2)
    launcher = FakeLauncher(findings=[bug])
    summary = _round(project, launcher, tmp_path / "out", launch=True)
    assert summary["bottleneck"] == "bugs" and summary["stopped_at"] == 6
    assert summary["decision"]["promote"] is False
    assert [f["id"] for f in summary["findings"]] == ["loop.zero-grad-missing"]
    assert [r.split()[0] for r in launcher.runs] == ["check"]  # no baseline, no trials

    # the bugs fixed, the next walk checks again from step 4 and goes on
    fixed = FakeLauncher()
    again = _round(project, fixed, tmp_path / "out2")
    assert again["bottleneck"] == "variance" and again["stopped_at"] == 8
    assert [r.split()[0] for r in fixed.runs] == ["check", "baseline"]
    assert any("step 4 (bottleneck) reopened" in n for n in again["notes"])


def test_the_round_command_runs_headless_and_writes_its_outputs(project, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["round", str(project), "--agent", "rules", "--dry-run", "--launch",
                 "--trials", "5", "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "agent: rules" in captured.err
    assert "next goal" in captured.out
    assert json.loads((out / "summary.json").read_text())["decision"]["promote"] is not None


def test_agent_claude_without_a_key_says_so_and_exits_2(project, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["round", str(project), "--agent", "claude", "--dry-run"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not (project / ".dlpilot").exists()


def test_agent_auto_without_a_key_uses_the_rules_and_says_so(project, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["round", str(project), "--agent", "auto", "--dry-run"]) == 0
    assert "agent: rules (ANTHROPIC_API_KEY is not set)" in capsys.readouterr().err


def test_the_runbook_commands_walk_a_step_and_revise_it(project, tmp_path, capsys):
    args = ["--project", str(project)]
    assert main(["runbook", "status", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 1
    assert main(["runbook", "propose", *args]) == 0
    assert "classification" in capsys.readouterr().out
    assert main(["runbook", "answer", *args, "--accept"]) == 0
    answer = tmp_path / "a.json"
    answer.write_text(json.dumps({"metric": "val/acc", "direction": "maximize"}))
    assert main(["runbook", "answer", *args, "--file", str(answer)]) == 2
    assert "field 'splits' is missing" in capsys.readouterr().err
    assert main(["runbook", "answer", *args, "--accept"]) == 0
    assert main(["runbook", "revise", *args, "1"]) == 0
    assert "2 (metric)" in capsys.readouterr().out
    assert main(["runbook", "history", *args]) == 0
    assert "round 1" in capsys.readouterr().out
