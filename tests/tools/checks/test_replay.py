"""check_script from recorded real runs (RecordedRunner): the rules, the overfit verdict and the
report in milliseconds, on the evidence a real probe wrote. The recordings are re-made by
``python -m tests.tools.checks.recorded.record``; the real runner is tested on its own in
test_check_script.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.checks import CheckReport, RecordedRunner, check_script, overfit_test

from ._programs import BUGGY, CORRECT
from .recorded.record import PROGRAMS

RECORDED = Path(__file__).resolve().parent / "recorded"


def _replay(name: str, tmp_path: Path, *, overfit: bool) -> tuple[CheckReport, RecordedRunner]:
    (tmp_path / "train.py").write_text((RECORDED / name / "train.py.txt").read_text())
    runner = RecordedRunner(RECORDED / name)
    report = check_script(
        ["python", "train.py"], cwd=tmp_path, overfit=overfit, static=False, runner=runner
    )
    return report, runner


def test_every_recorded_program_is_one_of_the_test_programs_and_unchanged() -> None:
    for name in PROGRAMS:
        source = CORRECT[name] if name in CORRECT else BUGGY[name][0]
        assert (RECORDED / name / "train.py.txt").read_text() == source, f"re-record {name}"


@pytest.mark.parametrize("name", sorted(n for n in PROGRAMS if n in BUGGY))
def test_a_recorded_buggy_run_is_caught_with_runtime_evidence(name: str, tmp_path: Path) -> None:
    report, runner = _replay(name, tmp_path, overfit=False)
    expected = BUGGY[name][1]
    found = {f.id for f in report.findings}
    assert expected <= found, (expected, found)
    assert all(e.how == "runtime" for f in report.findings for e in f.evidence)
    assert runner.modes == ["script"]


def test_a_recorded_correct_run_passes_clean_with_the_overfit_test(tmp_path: Path) -> None:
    report, runner = _replay("mlp_loader", tmp_path, overfit=True)
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.run.stopped_by == "epochs" and report.steps_observed == 40
    assert sorted(str(ld["kind"]) for ld in report.loaders) == ["train", "val"]
    assert report.overfit is not None and report.overfit.verdict == "passed"
    assert runner.modes == ["script", "overfit"]


def test_recorded_locations_point_into_the_replaying_directory(tmp_path: Path) -> None:
    report, _ = _replay("label_out_of_range_mid_run", tmp_path, overfit=False)
    assert report.exception is not None and report.exception.file == "train.py"
    (f,) = [f for f in report.findings if f.id == "loss.label-out-of-range"]
    assert any(e.file == "train.py" for e in f.evidence)


def test_a_mode_that_was_not_recorded_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    with pytest.raises(InvalidArgument, match="no recorded 'overfit' run"):
        overfit_test(
            ["python", "train.py"], cwd=tmp_path, runner=RecordedRunner(RECORDED / "no_zero_grad")
        )
    with pytest.raises(InvalidArgument, match="no recorded probe run"):
        RecordedRunner(tmp_path)
