"""Logs of real small trainings, written the way loggers write them, read back and diagnosed:
resumed runs, noisy small batches, train-dev splits and epoch-only logs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from dlpilot.tools.curves import diagnose_runs, read_run

from . import _logs as L
from . import _training as T

pytestmark = pytest.mark.slow

Writer = Callable[[T.Log, Path], Path]
WRITERS: dict[str, Writer] = {
    "jsonl": lambda log, d: L.write_jsonl(log, d / "metrics.jsonl"),
    "csv": lambda log, d: L.write_csv(log, d / "log.csv"),
    "tensorboard": lambda log, d: L.write_tensorboard(log, d / "tb"),
    "hf-trainer": lambda log, d: L.write_hf_state(log, d / "out"),
}


def _continuation(log: T.Log, name: str) -> tuple[list[int], list[float]]:
    """What a resumed run's metric is: each segment up to where the next one resumed."""
    points: dict[int, float] = {}
    for segment in log.segments:
        mine = [(s, m[name]) for s, m in segment if name in m]
        if mine:
            start = mine[0][0]
            points = {s: v for s, v in points.items() if s < start}
            points.update(mine)
    steps = sorted(points)
    return steps, [points[s] for s in steps]


@pytest.fixture(scope="module")
def resumed_logs() -> dict[str, T.Log]:
    crashed_late = T.resumed(crash_at=300)
    # read while the resumed process is still running: its segment is shorter than the tail
    crashed_late.segments[-1] = crashed_late.segments[-1][:10]
    return {
        "checkpoint step": T.resumed(),
        "counter restarted at 0": T.resumed(restart_counter=True),
        "read while resumed": crashed_late,
    }


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize(
    "case", ["checkpoint step", "counter restarted at 0", "read while resumed"]
)
def test_a_resumed_run_is_read_as_a_continuation_in_every_format(
    resumed_logs: dict[str, T.Log], case: str, fmt: str, tmp_path: Path
) -> None:
    log = resumed_logs[case]
    run = read_run(WRITERS[fmt](log, tmp_path))
    steps, values = _continuation(log, "train_loss")
    loss = run.series["train/loss"]
    assert loss.steps.tolist() == steps
    assert np.allclose(loss.values, values)
    resumed_from = log.segments[-1][0][0]
    assert run.resumed_at == [resumed_from]
    assert any(w.startswith("resumed run") for w in run.warnings)
    d = diagnose_runs([run])
    assert d.verdict != "instability"
    assert not d.ids & {"curve.train-loss-increasing", "curve.diverged", "curve.unstable"}
    assert d.runs[0].summary.resumed_at == [resumed_from]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_a_run_resumed_from_its_checkpoint_step_is_still_improving(
    resumed_logs: dict[str, T.Log], fmt: str, tmp_path: Path
) -> None:
    d = diagnose_runs([read_run(WRITERS[fmt](resumed_logs["checkpoint step"], tmp_path))])
    assert "curve.still-improving" in d.ids
    assert d.verdict in ("balanced", "insufficient data") or fmt == "hf-trainer"  # part 2
