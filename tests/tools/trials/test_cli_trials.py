"""`dlpilot trials` from the command line: summary JSON, status, errors with exit status 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dlpilot.cli import main
from dlpilot.tools.trials import RoundFile

pytestmark = pytest.mark.slow


def test_run_then_status_and_the_summary_json_object(
    write_round: Callable[..., RoundFile],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    round_ = write_round(trials=2, parallel=1)
    assert main(["trials", "run", str(round_.source)]) == 0
    out = capsys.readouterr().out
    assert "[fake] done 2" in out and "best" in out
    assert main(["trials", "summary", "fake", "--json", "--dir", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"study", "direction", "best", "trials", "findings"} <= set(data)
    assert {
        "number",
        "state",
        "params",
        "value",
        "last_step",
        "exit_cause",
        "seconds",
        "dir",
    } <= set(data["trials"][0])
    monkeypatch.chdir(tmp_path)
    assert main(["trials", "status"]) == 0
    assert capsys.readouterr().out.startswith("fake: idle; 2 complete of 2")


def test_a_bad_round_file_and_an_unknown_study_exit_2_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('name = "x"\ncommand = "python t.py"\nmetrics = "m.jsonl"\ntrials = 0\n')
    assert main(["trials", "run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "trials = 0" in err and "objective" in err
    assert main(["trials", "summary", "nope", "--dir", str(tmp_path)]) == 2
    assert "no study named 'nope'" in capsys.readouterr().err
