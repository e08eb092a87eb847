"""The loop / mode / schedule classes of the detection issue end to end: real child processes,
real torch, the small programs of ``_programs_loop``. Each buggy program raises its ids and not
the wrong ones the old rules gave; each correct twin stays clean."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dlpilot.tools.checks import CheckReport, check_script

from ._programs_loop import BUGGY, CORRECT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CheckReport]]:
    root = tmp_path_factory.mktemp("loop_programs")
    jobs = list(CORRECT.items()) + [(n, s) for n, (s, _, _) in BUGGY.items()]
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"

    def run(job: tuple[str, str]) -> tuple[str, CheckReport]:
        name, source = job
        d = Path(root, name)
        d.mkdir()
        (d / "train.py").write_text(source)
        return name, check_script(
            ["python", "train.py"], cwd=d, overfit=False, static=False, timeout_s=240
        )

    try:
        with ThreadPoolExecutor(2) as pool:
            yield dict(pool.map(run, jobs))
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


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
