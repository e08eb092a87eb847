"""Logs of real small trainings, written the way loggers write them, read back and diagnosed:
resumed runs, noisy small batches, train-dev splits and epoch-only logs."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
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
    assert d.verdict in ("balanced", "insufficient data")


# Noisy per-step losses of small batches --------------------------------------------------------


@pytest.fixture(scope="module")
def batch_of_4() -> dict[str, T.Log]:
    return {
        "healthy seed 0": T.small_batch(1e-3, seed=0),
        "healthy seed 1": T.small_batch(1e-3, seed=1),
        "unstable": T.small_batch(0.1, seed=0),
        "healthy with train eval": T.small_batch(1e-3, seed=2, eval_train=True),
    }


def _no_acc(name: str) -> str | None:
    return None if name.endswith("acc") else name


SMALL_BATCH_WRITERS: dict[str, Writer] = {
    "jsonl": lambda log, d: L.write_jsonl(log, d / "metrics.jsonl"),
    "jsonl without accuracy": lambda log, d: L.write_jsonl(log, d / "metrics.jsonl", _no_acc),
    "tensorboard": lambda log, d: L.write_tensorboard(log, d / "tb"),
    "hf-trainer": lambda log, d: L.write_hf_state(log, d / "out"),
}


@pytest.mark.parametrize("fmt", sorted(SMALL_BATCH_WRITERS))
@pytest.mark.parametrize("case", ["healthy seed 0", "healthy seed 1"])
def test_a_healthy_batch_of_4_run_is_neither_unstable_nor_high_variance(
    batch_of_4: dict[str, T.Log], case: str, fmt: str, tmp_path: Path
) -> None:
    log = batch_of_4[case]
    late = np.array([m["train_loss"] for _, m in log.events if "train_loss" in m][-375:])
    assert late.mean() > 2 * np.median(late)  # heavy-tailed batch losses: the condition is there
    d = diagnose_runs([read_run(SMALL_BATCH_WRITERS[fmt](log, tmp_path))])
    assert not d.ids & {"curve.unstable", "curve.high-variance", "curve.train-loss-increasing"}
    assert d.verdict != "instability"


@pytest.mark.parametrize("fmt", sorted(SMALL_BATCH_WRITERS))
def test_adam_with_a_far_too_high_lr_and_batches_of_4_is_still_unstable(
    batch_of_4: dict[str, T.Log], fmt: str, tmp_path: Path
) -> None:
    d = diagnose_runs([read_run(SMALL_BATCH_WRITERS[fmt](batch_of_4["unstable"], tmp_path))])
    assert "curve.unstable" in d.ids and d.verdict == "instability"
    [f] = [f for f in d.findings if f.id == "curve.unstable"]
    assert f.evidence[0].detail["metric"] == "val/loss"  # judged where the model is measured


def test_an_evaluation_of_the_training_set_is_the_training_error_when_logged(
    batch_of_4: dict[str, T.Log], tmp_path: Path
) -> None:
    log = batch_of_4["healthy with train eval"]

    def rename(name: str) -> str | None:
        return name.replace("trainset_", "train_eval_") if not name.endswith("acc") else None

    d = diagnose_runs([read_run(L.write_jsonl(log, tmp_path / "m.jsonl", rename))])
    b = d.runs[0].breakdown
    last = [m for _, m in log.events if "trainset_loss" in m][-2:]
    assert b.train_error == pytest.approx((last[0]["trainset_loss"] + last[1]["trainset_loss"]) / 2)
    assert b.dev_error == pytest.approx((last[0]["val_loss"] + last[1]["val_loss"]) / 2)
    assert "curve.high-variance" not in d.ids


# Train-dev in every layout and name ------------------------------------------------------------


def _spelled(train_dev: str) -> Callable[[str], str | None]:
    return lambda name: name.replace("train_dev", train_dev)


TRAIN_DEV_LAYOUTS: dict[str, Writer] = {
    "jsonl train_dev_loss": lambda log, d: L.write_jsonl(log, d / "m.jsonl"),
    "csv train-dev_loss": lambda log, d: L.write_csv(log, d / "m.csv", _spelled("train-dev")),
    "jsonl traindev_loss": lambda log, d: L.write_jsonl(log, d / "m.jsonl", _spelled("traindev")),
    "jsonl holdout_train_loss": lambda log, d: L.write_jsonl(
        log, d / "m.jsonl", _spelled("holdout_train")
    ),
    "tensorboard Loss/train_dev": lambda log, d: L.write_tensorboard(
        log, d / "tb", lambda n: "{1}/{0}".format(*n.rsplit("_", 1)).capitalize()
    ),
    "tensorboard add_scalars": lambda log, d: L.write_add_scalars(
        log, d / "tb", {"train": "train", "train_dev": "train_dev", "test": "test"}
    ),
}


@pytest.fixture(scope="module")
def shifted() -> T.Log:
    return T.shifted_test()


@pytest.mark.parametrize("layout", sorted(TRAIN_DEV_LAYOUTS))
def test_train_dev_is_recognized_and_a_shifted_test_split_is_a_data_mismatch(
    shifted: T.Log, layout: str, tmp_path: Path
) -> None:
    run = read_run(TRAIN_DEV_LAYOUTS[layout](shifted, tmp_path))
    assert {"train-dev/acc", "val/acc"} <= set(run.series), sorted(run.series)
    assert any("deployment split" in w for w in run.warnings)
    d = diagnose_runs([run], target_error=0.0)
    assert "curve.data-mismatch" in d.ids and d.verdict == "data mismatch"
    assert "curve.high-variance" not in d.ids
    b = d.runs[0].breakdown
    # an evaluation's level is the mean of its last two (the last interval's start and end)
    last = [m for _, m in shifted.events if "test_acc" in m][-2:]
    assert b.dev_error == pytest.approx(1 - (last[0]["test_acc"] + last[1]["test_acc"]) / 2)


# Epoch-only logs --------------------------------------------------------------------------------

EPOCH_WRITERS: dict[str, Writer] = {
    "keras history.csv": lambda log, d: L.write_keras_history(log, d / "history.csv"),
    "jsonl with epoch": lambda log, d: L.write_jsonl(log, d / "metrics.jsonl", step_key="epoch"),
}


@pytest.mark.parametrize("fmt", sorted(EPOCH_WRITERS))
@pytest.mark.parametrize("epochs", [10, 6, 4])
def test_a_few_epoch_rows_whose_val_loss_falls_every_epoch_are_still_improving(
    epochs: int, fmt: str, tmp_path: Path
) -> None:
    log = T.epoch_only(epochs)
    val = [m["val_loss"] for _, m in log.events]
    assert all(b < a for a, b in pairwise(val))  # the condition is there
    d = diagnose_runs([read_run(EPOCH_WRITERS[fmt](log, tmp_path))])
    assert "curve.still-improving" in d.ids
    # the epoch-mean training loss lags the end-of-epoch validation loss: not "better than train"
    assert not d.ids & {"curve.val-better-than-train", "curve.saturated", "curve.unstable"}


@pytest.mark.parametrize("fmt", sorted(EPOCH_WRITERS))
def test_a_few_epoch_rows_of_a_converged_run_are_not_still_improving(
    fmt: str, tmp_path: Path
) -> None:
    d = diagnose_runs([read_run(EPOCH_WRITERS[fmt](T.epoch_only_converged(), tmp_path))])
    assert "curve.still-improving" not in d.ids


# A run flat at the class prior -----------------------------------------------------------------

PRIOR_WRITERS: dict[str, Writer] = {
    "jsonl": lambda log, d: L.write_jsonl(log, d / "metrics.jsonl"),
    "tensorboard": lambda log, d: L.write_tensorboard(log, d / "tb"),
    "keras history.csv": lambda log, d: L.write_keras_history(log, d / "history.csv"),
}


PRIOR_CASES = [
    (fmt, majority, per_step)
    for fmt in sorted(PRIOR_WRITERS)
    for majority, per_step in ((0.8, True), (0.9, True), (0.7, False))
    if per_step or fmt != "tensorboard"
    if not (per_step and fmt == "keras history.csv")  # a Keras history has epoch rows only
]


@pytest.mark.parametrize(("fmt", "majority", "per_step"), PRIOR_CASES)
def test_a_run_flat_at_the_class_prior_is_high_bias_not_saturation(
    fmt: str, majority: float, per_step: bool, tmp_path: Path
) -> None:
    log = T.class_prior(majority, per_step=per_step)
    d = diagnose_runs([read_run(PRIOR_WRITERS[fmt](log, tmp_path))])
    assert "curve.high-bias" in d.ids and d.verdict == "high bias"
    assert not d.ids & {"curve.saturated", "curve.val-better-than-train"}
    [f] = [f for f in d.findings if f.id == "curve.high-bias"]
    assert f.evidence[0].detail["majority_rate"] == pytest.approx(1 - majority, abs=0.03) or (
        f.evidence[0].detail["majority_rate"] == pytest.approx(majority, abs=0.03)
    )


@pytest.mark.parametrize("make", [T.epoch_only_converged, lambda: T.epoch_only(10), T.shifted_test])
def test_runs_that_learned_are_not_at_the_class_prior(make: Callable[[], T.Log], tmp_path: Path):
    d = diagnose_runs([read_run(L.write_jsonl(make(), tmp_path / "m.jsonl"))])
    assert not any(
        e.detail.get("rule", "").startswith("accuracy flat")
        for f in d.findings
        if f.id == "curve.high-bias"
        for e in f.evidence
    )


# Plots mark the evidence -----------------------------------------------------------------------


def test_the_plot_of_a_real_resumed_overfitting_run_marks_the_resume_and_the_best_val_step(
    resumed_logs: dict[str, T.Log], tmp_path: Path
) -> None:
    from dlpilot.tools.curves import plot_data

    run = read_run(WRITERS["tensorboard"](resumed_logs["checkpoint step"], tmp_path))
    assert [(m.kind, m.step) for m in plot_data([run]).marks] == [("resumed", 224)]
    overfit = T.overfitting()
    d = diagnose_runs([overfit])
    [f] = [f for f in d.findings if f.id == "curve.overfitting"]
    kinds = {(m.kind, m.step) for m in plot_data([overfit]).marks}
    assert ("best-validation", f.evidence[0].detail["best_step"]) in kinds
