"""Splits kept in directories (Keras, ``add_scalars``) and a test split used as the dev set, on
files written by torch's real ``SummaryWriter``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlpilot.tools.curves import diagnose_runs
from dlpilot.tools.curves.readers import read_run, read_runs

pytestmark = pytest.mark.slow


def _overfitting(step: int) -> tuple[float, float]:
    """(train loss, val loss): training keeps falling, validation turns up after step 30."""
    train = 0.7 * 0.95**step
    val = 0.7 * 0.95**step if step < 30 else 0.7 * 0.95**30 + 0.02 * (step - 30)
    return train, val


def test_add_scalars_subdirectories_join_their_writer_run(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "run")) as w:
        for step in range(100):
            train, val = _overfitting(step)
            w.add_scalars("loss", {"train": train, "val": val}, step)
            w.add_scalar("lr", 0.1, step)
    runs = read_runs(tmp_path)
    assert [r.name for r in runs] == ["run"]
    run = runs[0]
    assert {"train/loss", "val/loss", "lr"} <= set(run.series)
    assert run.series["val/loss"].original == "loss_val/loss"
    assert len(run.series["val/loss"]) == 100
    found = diagnose_runs(runs).ids
    assert "curve.overfitting" in found and "curve.diverged" not in found


def test_keras_style_train_and_validation_directories_are_one_run(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "logs" / "fit" / "20261122-101500"
    for split, index in (("train", 0), ("validation", 1)):
        with SummaryWriter(str(logdir / split)) as w:
            for epoch in range(60):
                w.add_scalar("epoch_loss", _overfitting(epoch)[index], epoch)
                w.add_scalar("epoch_accuracy", 0.5 + 0.4 * (1 - 0.9**epoch), epoch)
    runs = read_runs(tmp_path / "logs")
    assert [r.name for r in runs] == ["fit/20261122-101500"]
    assert {"train/loss", "val/loss", "train/acc", "val/acc"} <= set(runs[0].series)
    assert runs[0].series["val/loss"].original == "validation/epoch_loss"
    assert "curve.diverged" not in diagnose_runs(runs).ids


def test_runs_whose_tags_name_their_split_stay_apart_and_a_lone_test_dir_is_a_run(
    tmp_path: Path,
) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "exp" / "train")) as w:
        w.add_scalar("Loss/train", 1.0, 0)
        w.add_scalar("Loss/train", 0.5, 1)
    with SummaryWriter(str(tmp_path / "exp" / "val")) as w:
        w.add_scalar("Loss/val", 1.0, 0)
    with SummaryWriter(str(tmp_path / "test")) as w:  # an experiment called "test"
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
    runs = {r.name: r for r in read_runs(tmp_path)}
    assert sorted(runs) == ["exp/train", "exp/val", "test"]
    assert set(runs["test"].series) == {"train/loss"}


def test_a_test_split_scored_every_epoch_is_read_as_the_dev_set(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "tutorial")) as w:  # the PyTorch tutorials' tags
        for epoch in range(40):
            train, val = _overfitting(epoch)
            w.add_scalar("Loss/train", train, epoch)
            w.add_scalar("Loss/test", val, epoch)
            w.add_scalar("Accuracy/test", 0.8, epoch)
    run = read_run(tmp_path / "tutorial")
    assert {"val/loss", "val/acc"} <= set(run.series) and "test/loss" not in run.series
    assert run.series["val/loss"].original == "Loss/test"
    assert any("read as the dev" in w for w in run.warnings)
    assert "curve.overfitting" in diagnose_runs([run]).ids


def test_a_final_test_score_next_to_validation_stays_a_test_score(tmp_path: Path) -> None:
    rows = [{"step": s, "train_loss": 1 / (s + 1), "val_loss": 1.1 / (s + 1)} for s in range(10)]
    rows.append({"step": 10, "test_loss": 0.12})
    once = [{"step": s, "train_loss": 1 / (s + 1)} for s in range(10)] + [
        {"step": 10, "test_loss": 0.12}
    ]
    for name, data in (("with_val.jsonl", rows), ("test_once.jsonl", once)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in data))
    assert "test/loss" in read_run(tmp_path / "with_val.jsonl").series
    assert "test/loss" in read_run(tmp_path / "test_once.jsonl").series  # one point: at the end


def test_a_test_scored_once_next_to_train_dev_is_the_deployment_split(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"step": s, "train_acc": 0.9 + 0.008 * s, "train_dev_acc": 0.89 + 0.008 * s}
        for s in range(10)
    ]
    rows.append({"step": 9, "test_acc": 0.75})
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(path)
    assert run.series["val/acc"].original == "test_acc"
    assert any("deployment split" in w for w in run.warnings)
    d = diagnose_runs([run], target_error=0.0)
    assert d.verdict == "data mismatch"
    assert d.runs[0].breakdown.mismatch == pytest.approx(
        (0.954 + 0.962) / 2 - 0.75, abs=1e-6
    )  # train-dev: its last two
