"""The loop / mode / schedule classes of the detection issue end to end: real child processes,
real torch, the small programs of ``_programs_loop``. Each buggy program raises its ids and not
the wrong ones the old rules gave; each correct twin stays clean."""

from __future__ import annotations

import pytest

from dlpilot.tools.checks import CheckReport
from tests.helpers.programs import check_programs

from ._programs_loop import BUGGY, CORRECT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckReport]:
    jobs = [(n, s, False) for n, s in CORRECT.items()]
    jobs += [(n, s, False) for n, (s, _, _) in BUGGY.items()]
    return check_programs(tmp_path_factory.mktemp("loop_programs"), jobs)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_program_raises_its_id_and_not_the_wrong_one(
    name: str, reports: dict[str, CheckReport]
) -> None:
    _, expected, wrong = BUGGY[name]
    report = reports[name]
    assert report.exception is None, report.exception
    found = {f.id for f in report.findings}
    assert expected <= found, (expected, [(f.id, f.message) for f in report.findings])
    assert not wrong & found, [(f.id, f.message) for f in report.findings]


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_twin_passes_clean(name: str, reports: dict[str, CheckReport]) -> None:
    report = reports[name]
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.steps_observed >= 2
