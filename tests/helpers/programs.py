"""Running a set of small training programs through ``check_script``, two at a time, each in its
own directory as ``train.py``, with one intra-op thread each (two children share two cores)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dlpilot.tools.checks import CheckReport, check_script


def check_programs(
    root: Path, jobs: Iterable[tuple[str, str, bool]], timeout_s: float = 240
) -> dict[str, CheckReport]:
    """``jobs``: (name, source, run the overfit test too). The runtime part only (no static)."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"

    def run(job: tuple[str, str, bool]) -> tuple[str, CheckReport]:
        name, source, overfit = job
        d = root / name
        d.mkdir()
        (d / "train.py").write_text(source)
        return name, check_script(
            ["python", "train.py"], cwd=d, overfit=overfit, static=False, timeout_s=timeout_s
        )

    try:
        with ThreadPoolExecutor(2) as pool:
            return dict(pool.map(run, list(jobs)))
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old
