"""A step counter that goes back in one log is a resumed run: read as a continuation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers import read_run
from dlpilot.tools.curves.readers._base import SeriesBuilder


def _lines(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_crashed_tail_beyond_the_resume_point_is_dropped_and_the_resume_step_kept(
    tmp_path: Path,
) -> None:
    # crashed at step 9 after a checkpoint at 5; the resumed process has reached step 7 so far
    rows: list[dict[str, object]] = [{"step": s, "loss": 1.0 - 0.05 * s} for s in range(10)]
    rows += [{"step": s, "loss": 0.5 - 0.01 * s} for s in range(5, 8)]
    run = read_run(_lines(tmp_path / "metrics.jsonl", rows))
    loss = run.series["train/loss"]
    assert loss.steps.tolist() == list(range(8))
    assert np.allclose(loss.values[5:], [0.45, 0.44, 0.43])
    assert run.resumed_at == [5] and loss.resumed_at == [5]
    [note] = [w for w in run.warnings if "resumed" in w]
    assert "from 9 back to 5" in note and "5 earlier point(s)" in note


def test_a_csv_resumed_twice_keeps_both_resume_steps(tmp_path: Path) -> None:
    steps = [*range(0, 6), *range(4, 9), *range(7, 12)]
    path = tmp_path / "log.csv"
    path.write_text("step,train_loss\n" + "".join(f"{s},{i}\n" for i, s in enumerate(steps)))
    run = read_run(path)
    loss = run.series["train/loss"]
    assert loss.steps.tolist() == list(range(12))
    # 0..3 from the first segment, 4..6 from the second, 7..11 from the third
    assert loss.values.tolist() == [0, 1, 2, 3, 6, 7, 8, 11, 12, 13, 14, 15]
    assert run.resumed_at == [4, 7]


def test_a_counter_that_restarts_each_epoch_is_named_in_the_note(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"step": s, "loss": 1.0 / (e + 1)} for e in range(4) for s in range(10)
    ]
    run = read_run(_lines(tmp_path / "metrics.jsonl", rows))
    assert run.resumed_at == [0]
    assert any("log a global step" in w for w in run.warnings)


def test_a_point_written_late_by_its_wall_time_is_sorted_in_not_read_as_a_resume() -> None:
    b = SeriesBuilder()
    b.add("loss", [1, 2, 4, 3, 5], [1.0, 0.9, 0.7, 0.8, 0.6], [10.0, 11.0, 13.0, 12.0, 14.0])
    run = b.build(Run("r", "memory", "jsonl"))
    assert run.series["train/loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert run.resumed_at == [] and not run.warnings


def test_steps_written_twice_in_order_keep_the_last_value_and_are_no_resume() -> None:
    b = SeriesBuilder()
    b.add("loss", [1, 2, 2, 3], [1.0, 0.9, 0.8, 0.7])
    run = b.build(Run("r", "memory", "jsonl"))
    assert run.series["train/loss"].values.tolist() == [1.0, 0.8, 0.7]
    assert run.resumed_at == []


def test_mlflow_points_of_one_millisecond_are_read_in_step_order(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE runs (run_uuid TEXT, name TEXT, status TEXT, start_time INTEGER, "
        "lifecycle_stage TEXT, experiment_id INTEGER)"
    )
    con.execute(
        "CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT, "
        "step INTEGER, is_nan INTEGER)"
    )
    con.execute("INSERT INTO runs VALUES ('u1', 'r', 'FINISHED', 0, 'active', 0)")
    # a log_batch: one timestamp for every step, rows stored in reverse
    con.executemany(
        "INSERT INTO metrics VALUES ('loss', ?, 1000, 'u1', ?, 0)",
        [(1.0 / (s + 1), s) for s in reversed(range(6))],
    )
    con.commit()
    con.close()
    run = read_run(db, format="mlflow")
    assert run.series["train/loss"].steps.tolist() == list(range(6))
    assert run.resumed_at == []
