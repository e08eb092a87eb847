import math
from pathlib import Path

import pytest

from dlpilot.tools.curves.readers import read_run, read_runs


def _log_two_runs(tracking_uri: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("exp")
    with mlflow.start_run(run_name="baseline"):
        for step in range(20):
            mlflow.log_metric("train_loss", 1.0 / (step + 1), step=step)
            if step % 5 == 4:
                mlflow.log_metric("val_loss", 2.0 / (step + 1), step=step)
        mlflow.log_metric("train/grad_norm", float("nan"), step=20)
        mlflow.log_metric("lr", float("inf"), step=20)
    with mlflow.start_run(run_name="wider"):
        for step in range(10):
            mlflow.log_metric("train_loss", 0.5 / (step + 1), step=step)
        mlflow.log_metric("train_loss", 42.0, step=9)  # logged twice at one step: the last wins
    mlflow.set_tracking_uri("")


def _check(runs: list) -> None:  # type: ignore[type-arg]
    by_name = {r.name: r for r in runs}
    assert set(by_name) == {"baseline", "wider"}
    base = by_name["baseline"]
    assert base.format == "mlflow"
    assert base.series["train/loss"].steps.tolist() == list(range(20))
    assert base.series["train/loss"].values[3] == pytest.approx(0.25)
    assert base.series["val/loss"].steps.tolist() == [4, 9, 14, 19]
    assert math.isnan(base.series["grad_norm"].values[0])
    assert base.series["lr"].values[0] == math.inf
    wider = by_name["wider"]
    assert wider.series["train/loss"].values[-1] == 42.0
    assert any("last value" in w for w in wider.warnings)


@pytest.mark.slow
def test_runs_logged_to_an_mlflow_sqlite_store_are_read_with_their_names(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    _log_two_runs(f"sqlite:///{db}")
    _check(read_runs(db))
    _check(read_runs(tmp_path))  # the directory holding mlflow.db


@pytest.mark.slow
def test_runs_logged_to_an_mlflow_file_store_are_read_with_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it behind a flag
    store = tmp_path / "mlruns"
    _log_two_runs(store.as_uri())
    _check(read_runs(store))
    _check(read_runs(tmp_path))
    (tag,) = [t for t in store.glob("*/*/tags/mlflow.runName") if t.read_text() == "wider"]
    assert read_run(tag.parent.parent).name == "wider"  # one run directory alone


def test_a_hand_written_file_store_run_with_a_torn_metric_line_keeps_the_rest(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "mlruns" / "1" / "abc123"
    (run_dir / "metrics" / "val").mkdir(parents=True)
    (run_dir / "tags").mkdir()
    (tmp_path / "mlruns" / "1" / "meta.yaml").write_text("experiment_id: '1'\nname: exp\n")
    (run_dir / "meta.yaml").write_text("run_id: abc123\nrun_name: r1\nlifecycle_stage: active\n")
    (run_dir / "metrics" / "val" / "loss").write_text(
        "1700000000000 0.9 0\n1700000001000 0.8 1\n1700000002000 0.7"
    )
    run = read_run(tmp_path / "mlruns")
    assert run.name == "r1"
    loss = run.series["val/loss"]
    assert loss.original == "val/loss"
    assert loss.steps.tolist() == [0, 1]
    assert loss.wall_times is not None and loss.wall_times[0] == 1700000000.0
    assert any("torn" in w for w in run.warnings)
