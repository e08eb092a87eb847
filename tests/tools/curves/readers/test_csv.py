import csv
import math
from pathlib import Path

import pytest

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves.readers import _csv, read_run, read_runs


class _LightningLikeWriter:
    """Writes metrics.csv the way Lightning's CSVLogger (_ExperimentWriter) does.

    Lightning keeps a list of metric dicts, adds "step" to each, and on save() extends and sorts
    the header with any new keys (rewriting the file with the new header if it exists), then
    appends the rows with csv.DictWriter (missing keys become empty cells).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[str] = []
        self.pending: list[dict[str, float]] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        row = dict(metrics)
        row["step"] = step
        self.pending.append(row)

    def save(self) -> None:
        new = set().union(*self.pending) - set(self.keys)
        self.keys.extend(new)
        self.keys.sort()
        exists = self.path.is_file()
        if new and exists:
            with self.path.open(newline="") as f:
                old = list(csv.DictReader(f))
            with self.path.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=self.keys)
                w.writeheader()
                w.writerows(old)
        with self.path.open("a" if exists else "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.keys)
            if not exists:
                w.writeheader()
            w.writerows(self.pending)
        self.pending = []


def _lightning_run(version_dir: Path, epochs: int = 3, steps_per_epoch: int = 5) -> Path:
    version_dir.mkdir(parents=True)
    (version_dir / "hparams.yaml").write_text("lr: 0.001\n")
    writer = _LightningLikeWriter(version_dir / "metrics.csv")
    step = 0
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            writer.log_metrics({"train_loss_step": 1.0 / (step + 1), "epoch": epoch}, step)
            step += 1
        writer.log_metrics(
            {"val_loss": 0.5 / (epoch + 1), "val_acc": 0.5 + epoch / 10, "epoch": epoch}, step - 1
        )
        writer.log_metrics({"train_loss_epoch": 0.9 / (epoch + 1), "epoch": epoch}, step - 1)
        writer.save()
    return version_dir / "metrics.csv"


def test_a_lightning_csvlogger_file_with_sparse_rows_gives_each_metric_its_own_steps(
    tmp_path: Path,
) -> None:
    path = _lightning_run(tmp_path / "lightning_logs" / "version_0")
    header = path.read_text().splitlines()[0]
    assert header == "epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss"
    run = read_run(path)
    assert run.name == "version_0" and run.format == "csv"
    assert run.series["train/loss"].steps.tolist() == list(range(15))
    assert run.series["train/loss"].original == "train_loss_step"
    assert run.series["train/loss_epoch"].steps.tolist() == [4, 9, 14]
    assert run.series["val/loss"].values.tolist() == pytest.approx([0.5, 0.25, 0.5 / 3])
    assert run.series["val/acc"].steps.tolist() == [4, 9, 14]
    assert run.series["epoch"].values[-1] == 2.0
    assert run.warnings == []


def test_a_directory_of_lightning_versions_gives_one_run_per_version(tmp_path: Path) -> None:
    for v in range(3):
        _lightning_run(tmp_path / "lightning_logs" / f"version_{v}")
    runs = read_runs(tmp_path / "lightning_logs")
    assert sorted(r.name for r in runs) == ["version_0", "version_1", "version_2"]


def test_a_generic_csv_with_an_iteration_column_is_read(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("iteration,Loss/train,accuracy\n1,2.0,0.1\n2,1.5,nan\n3,1.0,n/a\n")
    run = read_run(path)
    assert run.series["train/loss"].steps.tolist() == [1, 2, 3]
    acc = run.series["train/acc"]
    assert acc.steps.tolist() == [1, 2] and math.isnan(acc.values[1])


def test_a_torn_last_csv_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,val_loss\n0,1.0\n1,0.9\n2,0.8")
    run = read_run(path)
    assert run.series["val/loss"].steps.tolist() == [0, 1]
    assert any("torn" in w for w in run.warnings)


def test_rows_with_the_wrong_number_of_cells_are_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n0,1.0\n1,0.9,extra\n2,0.8\n")
    run = read_run(path)
    assert run.series["train/loss"].steps.tolist() == [0, 2]
    assert any("cell count" in w for w in run.warnings)


def test_a_csv_without_a_step_column_is_not_taken_for_a_log_when_walking(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    with pytest.raises(CurveReadError, match="no metrics found"):
        read_runs(tmp_path)


def test_an_empty_csv_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("")
    with pytest.raises(CurveReadError, match=r"metrics\.csv"):
        read_run(path, format="csv")


def _sparse_csv(path: Path, quoted_from: int | None, torn: bool) -> None:
    lines = ["epoch,step,train_loss_step,val_acc,val_loss,time"]
    for step in range(300):
        lines.append(f"{step // 100},{step},{1.0 / (step + 1)},,,{1000 + step}")
        if step % 100 == 99:
            lines.append(
                f"{step // 100},{step},,{0.5 + step / 1e3},{2.0 / (step + 1)},{1000 + step}"
            )
        if step == 150:
            lines.append("1,150,0.5")  # wrong cell count
            lines.append("")
    if quoted_from is not None:
        lines[quoted_from] = '"0","' + lines[quoted_from].split(",", 1)[1].replace(",", '","') + '"'
    text = "\r\n".join(lines) + ("\r\n" if not torn else "\r\n2,300,0.1")
    path.write_text(text, newline="")


@pytest.mark.parametrize("block", [1, 30, 1000, 1 << 20])
@pytest.mark.parametrize(("quoted_from", "torn"), [(None, False), (None, True), (5, True)])
def test_reading_in_small_blocks_gives_the_same_series_and_warnings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    block: int,
    quoted_from: int | None,
    torn: bool,
) -> None:
    path = tmp_path / "metrics.csv"
    _sparse_csv(path, quoted_from, torn)
    monkeypatch.setattr(_csv, "_ROWS", 7)
    whole = read_run(path)
    monkeypatch.setattr(_csv, "_BLOCK", block)
    run = read_run(path)
    assert list(run.series) == list(whole.series)
    assert set(run.series) == {"epoch", "train/loss", "val/acc", "val/loss"}
    for name, s in whole.series.items():
        got = run.series[name]
        assert got.steps.tolist() == s.steps.tolist()
        assert got.values.tolist() == s.values.tolist()
        assert got.wall_times is not None and s.wall_times is not None
        assert got.wall_times.tolist() == s.wall_times.tolist()
    assert run.warnings == whole.warnings
    assert any("1 row(s) whose cell count differs" in w for w in run.warnings)
    assert any("torn" in w for w in run.warnings) == torn
    assert run.series["train/loss"].steps.tolist() == list(range(300))
    assert run.series["val/loss"].steps.tolist() == [99, 199, 299]


def test_wall_times_are_dropped_when_a_row_lacks_one(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss,time\n0,1.0,10\n1,0.9,\n2,0.8,12\n")
    loss = read_run(path).series["train/loss"]
    assert loss.steps.tolist() == [0, 1, 2] and loss.wall_times is None
