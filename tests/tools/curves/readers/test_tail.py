"""The incremental reader: only new bytes, the same normalized series as read_runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dlpilot.tools.curves.readers import read_runs
from dlpilot.tools.curves.readers._tail import TailReader


def _same(a_path: Path, tail: TailReader) -> None:
    whole = read_runs(a_path)[0]
    run = tail.poll()
    assert run is not None
    assert sorted(run.series) == sorted(whole.series)
    for name, series in whole.series.items():
        np.testing.assert_array_equal(run.series[name].steps, series.steps)
        np.testing.assert_array_equal(run.series[name].values, series.values)


def test_a_growing_jsonl_file_is_read_in_new_bytes_only(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = TailReader(path)
    assert tail.poll() is None  # not there yet
    with path.open("w") as f:
        for step in range(5):
            f.write(json.dumps({"step": step, "train_loss": 1.0 / (step + 1)}) + "\n")
    _same(path, tail)
    with path.open("a") as f:
        f.write(json.dumps({"step": 5, "train_loss": 0.1, "eval_loss": 0.3}) + "\n")
        f.write('{"step": 6, "train_lo')  # a torn last line waits for its end
    run = tail.poll()
    assert run is not None and run.series["train/loss"].steps.tolist()[-1] == 5
    assert run.series["val/loss"].values.tolist() == [0.3]
    with path.open("a") as f:
        f.write('ss": NaN}\n')
    _same(path, tail)
    assert tail.bytes_read == path.stat().st_size  # every byte read once


def test_a_growing_lightning_csv_gives_the_csv_readers_series(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    tail = TailReader(path)
    path.write_text("epoch,Step,train_loss_step,val_loss\n0,0,1.0,\n0,1,0.8,\n")
    _same(path, tail)
    with path.open("a") as f:
        f.write("0,1,,0.9\n1,2,0.5,\n")
    _same(path, tail)
    assert tail.bytes_read == path.stat().st_size


def test_a_rewritten_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 0, "loss": 5}\n{"step": 1, "loss": 4}\n')
    tail = TailReader(path)
    tail.poll()
    path.write_text('{"step": 0, "loss": 2}\n')
    run = tail.poll()
    assert run is not None and run.series["train/loss"].values.tolist() == [2.0]


def test_a_directory_is_read_again_only_when_it_changed(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    state = tmp_path / "run" / "trainer_state.json"
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "eval_loss": 1.5}]
    state.write_text(json.dumps({"log_history": history}))
    tail = TailReader(tmp_path / "run")
    first = tail.poll()
    assert first is not None and "val/loss" in first.series
    assert tail.poll() is first  # unchanged: not read again
    history.append({"step": 3, "eval_loss": 1.0})
    state.write_text(json.dumps({"log_history": history}))
    again = tail.poll()
    assert again is not first and again is not None
    assert again.series["val/loss"].steps.tolist() == [2, 3]
