"""The data and loss classes of issue 15 on real probed runs: each buggy program of
``_data_programs`` is caught with its id, each correct twin passes clean."""

from __future__ import annotations

import pytest

from dlpilot.tools.checks import CheckReport
from tests.helpers.programs import check_programs

from ._data_programs import BUGGY, CORRECT

pytestmark = pytest.mark.slow

NEEDS_OVERFIT = {"data.labels-misaligned"}
"""Ids judged together with the overfit verdict: their programs run the overfit test too."""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckReport]:
    jobs = [(n, s, True) for n, s in CORRECT.items()]
    jobs += [(n, s, bool(ids & NEEDS_OVERFIT)) for n, (s, ids) in BUGGY.items()]
    return check_programs(tmp_path_factory.mktemp("data_programs"), jobs)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_data_program_is_caught_with_its_id(
    name: str, reports: dict[str, CheckReport]
) -> None:
    report = reports[name]
    assert report.exception is None, report.exception
    found = {f.id for f in report.findings}
    assert BUGGY[name][1] <= found, ([(f.id, f.message) for f in report.findings], report.overfit)


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_data_program_passes_clean(name: str, reports: dict[str, CheckReport]) -> None:
    report = reports[name]
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.overfit is not None and report.overfit.verdict != "failed", report.overfit
