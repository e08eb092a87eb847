import json
from pathlib import Path

import pytest

from dlpilot.errors import CurveReadError, InvalidArgument
from dlpilot.tools.curves.readers import READERS, formats, read_run, read_runs


def test_every_reader_declares_a_distinct_format() -> None:
    assert len(set(formats())) == len(READERS)
    assert set(formats()) == {"jsonl", "csv", "tensorboard", "hf-trainer", "mlflow"}


def test_a_project_tree_with_mixed_logs_gives_one_run_per_source(tmp_path: Path) -> None:
    (tmp_path / "trials" / "t0").mkdir(parents=True)
    (tmp_path / "trials" / "t0" / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    (tmp_path / "trials" / "t1").mkdir()
    (tmp_path / "trials" / "t1" / "metrics.jsonl").write_text('{"step": 0, "loss": 2.0}\n')
    (tmp_path / "lightning_logs" / "version_0").mkdir(parents=True)
    (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").write_text(
        "epoch,step,val_loss\n0,9,0.5\n"
    )
    out = tmp_path / "hf_out"
    out.mkdir()
    (out / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 5, "loss": 3.0}]}))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "junk.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    runs = read_runs(tmp_path)
    names = {r.name: r.format for r in runs}
    assert names == {
        "trials/t0": "jsonl",
        "trials/t1": "jsonl",
        "lightning_logs/version_0": "csv",
        "hf_out": "hf-trainer",
    }


def test_read_run_refuses_a_directory_that_holds_several_runs(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    with pytest.raises(CurveReadError, match="holds 2 runs"):
        read_run(tmp_path)


def test_an_unknown_format_name_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="'parquet'"):
        read_run(tmp_path, format="parquet")


def test_a_forced_format_reads_a_file_detection_would_not_take(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text('{"step": 3, "val_loss": 0.5}\n')
    assert read_run(path, format="jsonl").series["val/loss"].steps.tolist() == [3]


def test_a_missing_path_and_an_unknown_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(CurveReadError, match="no such file"):
        read_runs(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CurveReadError, match="not a metrics file"):
        read_runs(tmp_path / "notes.txt")


def test_an_unreadable_source_in_a_tree_becomes_a_warning_when_others_are_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metrics.jsonl").write_text("garbage\n")
    (run,) = read_runs(tmp_path)
    assert run.name == "good"
    assert any("bad" in w and "skipped" in w for w in run.warnings)
