import json
import math
from pathlib import Path

import numpy as np
import pytest

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves.readers import _jsonl, read_run


def _write_lines(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_jsonl_log_gives_one_series_per_metric(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    _write_lines(
        path,
        [
            {"step": 1, "train_loss": 0.9, "lr": 0.1},
            {"step": 2, "train_loss": 0.5, "lr": 0.1},
            {"step": 2, "val_loss": 0.7, "val_acc": 0.6},
        ],
    )
    run = read_run(path)
    assert run.format == "jsonl"
    assert run.name == tmp_path.name
    loss = run.series["train/loss"]
    assert loss.original == "train_loss"
    assert loss.steps.tolist() == [1, 2]
    assert loss.values.tolist() == [0.9, 0.5]
    assert run.series["val/loss"].steps.tolist() == [2]
    assert run.series["val/acc"].values.tolist() == [0.6]
    assert run.series["lr"].values.tolist() == [0.1, 0.1]
    assert run.warnings == []


def test_non_numeric_values_are_skipped_and_nan_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "trial.jsonl"
    path.write_text(
        '{"step": 0, "loss": 2.0, "phase": "train", "ok": true, "extra": null}\n'
        '{"step": 1, "loss": NaN, "phase": "train", "ok": false}\n'
        '{"step": 2, "loss": "oops"}\n'
    )
    run = read_run(path)
    assert set(run.series) == {"train/loss"}
    loss = run.series["train/loss"]
    assert loss.steps.tolist() == [0, 1]
    assert loss.values[0] == 2.0 and math.isnan(loss.values[1])


def test_numbers_written_as_strings_are_numbers_and_nan_strings_are_non_finite(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(
        '{"step": 0, "loss": "0.5"}\n{"step": 1, "loss": "nan"}\n{"step": 2, "loss": "-Infinity"}\n'
    )
    values = read_run(path).series["train/loss"].values
    assert values[0] == 0.5 and math.isnan(values[1]) and values[2] == -math.inf


def test_global_step_is_used_when_there_is_no_step_key(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _write_lines(path, [{"global_step": 10, "loss": 1.0}, {"global_step": 20, "loss": 0.5}])
    assert read_run(path).series["train/loss"].steps.tolist() == [10, 20]


def test_without_any_step_key_the_line_position_is_the_step_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _write_lines(path, [{"loss": 1.0}, {"loss": 0.5}])
    run = read_run(path)
    assert run.series["train/loss"].steps.tolist() == [0, 1]
    assert any("position" in w for w in run.warnings)


def test_a_torn_last_line_keeps_the_complete_lines_and_warns(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.8}\n{"step": 3, "lo')
    run = read_run(path)
    assert run.series["train/loss"].steps.tolist() == [1, 2]
    assert any("line 3" in w and "torn" in w for w in run.warnings)


def test_a_resumed_run_that_rewrites_steps_keeps_the_resumed_values_and_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metrics.jsonl"
    rows: list[dict[str, object]] = [{"step": s, "loss": 1.0 / (s + 1)} for s in range(5)]
    rows += [{"step": s, "loss": 9.0} for s in range(3, 6)]
    _write_lines(path, rows)
    run = read_run(path)
    loss = run.series["train/loss"]
    assert loss.steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert loss.values[3:].tolist() == [9.0, 9.0, 9.0]
    assert run.resumed_at == [3]
    assert any("resumed" in w and "step 3" in w for w in run.warnings)


def test_a_file_with_no_json_object_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("this is not json\n")
    with pytest.raises(CurveReadError, match=r"metrics\.jsonl"):
        read_run(path)


def test_many_rows_are_read_as_numpy_arrays(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    n = 20_000
    path.write_text("".join(f'{{"step": {i}, "loss": {1 / (i + 1)}}}\n' for i in range(n)))
    loss = read_run(path).series["train/loss"]
    assert loss.steps.dtype == np.int64 and loss.values.dtype == np.float64
    assert len(loss) == n and loss.values[-1] == pytest.approx(1 / n)


def _mixed_log(path: Path) -> None:
    lines = []
    for s in range(200):
        row: dict[str, object] = {"step": s, "train_loss": 1.0 / (s + 1)}
        if s % 7 == 0:
            row["val_loss"] = 2.0 / (s + 1)
        if s % 11 == 0:
            row = {"lr": 0.1, **row, "phase": "train"}
        if s == 50:
            row["train_loss"] = None
        if s == 60:
            row["train_loss"] = True
        lines.append(json.dumps(row))
    lines.insert(120, "")
    lines.insert(80, "not json at all")
    lines.insert(90, "[1, 2]")
    path.write_text("\n".join(lines) + '\n{"step": 999, "train_lo')


@pytest.mark.parametrize("block", [1, 16, 100, 4096])
def test_reading_in_small_blocks_gives_the_same_series_and_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    path = tmp_path / "metrics.jsonl"
    _mixed_log(path)
    whole = read_run(path)
    monkeypatch.setattr(_jsonl, "_BLOCK", block)
    run = read_run(path)
    assert list(run.series) == list(whole.series) == ["lr", "train/loss", "val/loss"]
    for name, s in whole.series.items():
        assert run.series[name].steps.tolist() == s.steps.tolist()
        assert run.series[name].values.tolist() == s.values.tolist()
    assert run.warnings == whole.warnings
    assert any("lines 81, ... (2 lines)" in w for w in run.warnings)
    assert any("1 line(s) that are not objects" in w for w in run.warnings)
    assert run.series["train/loss"].steps.tolist() == [s for s in range(200) if s not in (50, 60)]


def test_a_float_step_that_is_whole_is_a_step_and_a_fractional_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    _write_lines(path, [{"step": 1.0, "epoch": 0, "loss": 1.0}, {"step": 2.0, "epoch": 0.5}])
    assert read_run(path).series["train/loss"].steps.tolist() == [1]
    _write_lines(path, [{"step": 1.5, "epoch": 0, "loss": 1.0}, {"step": 2, "epoch": 1}])
    run = read_run(path)
    assert run.series["train/loss"].steps.tolist() == [0]
    assert run.series["step"].values.tolist() == [1.5, 2.0]


def test_rows_without_the_step_key_are_skipped_and_wall_times_kept_when_every_row_has_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metrics.jsonl"
    _write_lines(
        path,
        [
            {"step": 1, "loss": 1.0, "time": 10.0},
            {"loss": 0.9, "time": 11.0},
            {"step": 3, "loss": 0.8, "time": 12.5},
        ],
    )
    run = read_run(path)
    loss = run.series["train/loss"]
    assert loss.steps.tolist() == [1, 3]
    assert loss.wall_times is not None and loss.wall_times.tolist() == [10.0, 12.5]
    assert any("skipped 1 row(s) without 'step'" in w for w in run.warnings)
