"""Curve rules comparing training with validation or with chance: ``curve.overfitting``,
``curve.val-better-than-train`` and ``curve.high-bias`` at chance level."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    Goal,
)
from dlpilot.tools.curves.rules._common import (
    LATE_FRACTION,
    Curve,
    as_error,
    ev_step,
    pick,
    rnd,
    rule_detail,
)

# --------------------------------------------------------------------------------------------
# curve.overfitting — validation loss rises after its minimum while training loss keeps falling.
# On the smoothed validation curve: the minimum has at least OVERFIT_MIN_AFTER points after it,
# the final smoothed value is above the minimum by OVERFIT_RISE_REL of the minimum's level and by
# OVERFIT_NOISE_Z x the validation noise, and the smoothed training loss fell by at least
# OVERFIT_TRAIN_FALL_REL between the validation minimum and the end. Without a validation loss,
# validation accuracy is used the same way (falling after its maximum). With a train-dev split
# logged, it is the held-out curve read (same distribution as training; a shifted dev set that
# gets worse is curve.data-mismatch's business).

OVERFIT_MIN_POINTS = 5
OVERFIT_MIN_AFTER = 2
OVERFIT_RISE_REL = 0.05
OVERFIT_NOISE_Z = 2.0
OVERFIT_TRAIN_FALL_REL = 0.02


@reports("curve.overfitting")
def rule_overfitting(run: Run) -> list[Finding]:
    pairs: list[tuple[str, Goal]] = [("loss", "min"), ("acc", "max")]
    for quantity, goal in pairs:
        # over-fitting is judged on held-out data of the training distribution when a train-dev
        # split is logged: a dev set from another distribution can get worse through mismatch
        vs = pick(run, "train-dev", quantity) or pick(run, "val", quantity)
        ts = pick(run, "train", quantity)
        if ts is None:
            ts = pick(run, "train")
            tgoal: Goal = "min"
        else:
            tgoal = goal
        if vs is None or ts is None:
            continue
        v = as_error(Curve.of(vs), goal)
        t = as_error(Curve.of(ts), tgoal)
        if len(v) < OVERFIT_MIN_POINTS or len(t) < OVERFIT_MIN_POINTS:
            return []
        imin = int(np.argmin(v.smooth))
        if len(v) - 1 - imin < OVERFIT_MIN_AFTER:
            return []
        lo, final = float(v.smooth[imin]), float(v.smooth[-1])
        rise = final - lo
        need = max(OVERFIT_RISE_REL * abs(lo), OVERFIT_NOISE_Z * v.noise)
        step_min, step_end = float(v.steps[imin]), float(v.steps[-1])
        t_at_min, t_end = t.at(step_min), t.at(min(step_end, float(t.steps[-1])))
        fall = t_at_min - t_end
        if rise > 0 and rise >= need and fall >= OVERFIT_TRAIN_FALL_REL * abs(t_at_min):
            sign = 1.0 if goal == "min" else -1.0
            return [
                finding(
                    "curve.overfitting",
                    f"{vs.name} was best at step {int(step_min)} ({sign * lo:.4g}) and got worse "
                    f"to {sign * final:.4g} by step {int(step_end)}, while {ts.name} kept "
                    f"improving ({sign * t_at_min:.4g} -> {sign * t_end:.4g}) in run "
                    f"{run.name!r}: the model is overfitting; select the best checkpoint, "
                    "regularize or get more data.",
                    how="curve",
                    step=ev_step(int(step_min)),
                    detail=rule_detail(
                        run,
                        vs,
                        "validation worse after its best while training improves",
                        train_metric=ts.name,
                        best_value=rnd(sign * lo),
                        best_step=int(step_min),
                        final_value=rnd(sign * final),
                        final_step=int(step_end),
                        train_at_best=rnd(sign * t_at_min),
                        train_final=rnd(sign * t_end),
                        threshold={
                            "min_rise_relative": OVERFIT_RISE_REL,
                            "noise_z": OVERFIT_NOISE_Z,
                            "min_train_fall_relative": OVERFIT_TRAIN_FALL_REL,
                            "min_points_after_best": OVERFIT_MIN_AFTER,
                        },
                    ),
                )
            ]
        return []
    return []


# --------------------------------------------------------------------------------------------
# curve.val-better-than-train — validation clearly better than training near the end: over the
# last LATE_FRACTION of validation points (at least VBT_MIN_LATE), the median of
# validation / training error (training smoothed and read at the same steps) is at most
# 1 - VBT_REL, and the absolute gap is at least VBT_ABS (errors as loss, or 1 - accuracy). Only
# the end is read because early on a training loss averaged over an epoch lags behind the
# validation loss measured after it. When the run logs both a loss and an accuracy for both
# splits, both must show it: a validation loss 10% under an epoch-averaged training loss with
# equal accuracies is the lag and sampling noise of an i.i.d. split, not leakage. With one
# quantity alone the margin is VBT_REL_ALONE.

VBT_REL = 0.10
VBT_REL_ALONE = 0.20
# A training series with fewer than this many times the validation's points is logged per epoch
# (a mean over the epoch's batches), not per step.
VBT_DENSE_RATIO = 3
VBT_ABS = 0.01
VBT_MIN_POINTS = 3
VBT_MIN_LATE = 2


@dataclass
class _Vbt:
    vs: Series
    ts: Series
    ratio: float
    gap: float
    late: int
    first_step: int
    val_median: float
    train_median: float


def _val_vs_train(run: Run, quantity: str, goal: str) -> _Vbt | None:
    vs, ts = pick(run, "val", quantity), pick(run, "train", quantity)
    if vs is None or ts is None:
        return None
    v, t = Curve.of(vs), Curve.of(ts)
    if len(v) < VBT_MIN_POINTS or len(t) < VBT_MIN_POINTS:
        return None
    k = max(VBT_MIN_LATE, math.ceil(len(v) * LATE_FRACTION))
    vsteps = v.steps[-k:].astype(np.float64)
    vv = v.values[-k:]
    tv = np.interp(vsteps, t.steps.astype(np.float64), t.smooth)
    if len(t) < VBT_DENSE_RATIO * len(v) and len(v) > k:
        # an epoch-level training metric (a mean over the epoch's batches) describes the model
        # during the epoch that ends at its step, which the validation at the previous epoch's
        # end saw at its start: compare those, so a falling curve's lag is not "better"
        vv = v.values[-k - 1 : -1]
    elif len(t) < VBT_DENSE_RATIO * len(v):
        return None
    val_median, train_median = float(np.median(vv)), float(np.median(tv))
    if goal == "max":
        if not (np.all((vv >= 0) & (vv <= 1)) and np.all((tv >= 0) & (tv <= 1))):
            return None
        vv, tv = 1.0 - vv, 1.0 - tv
    if np.any(tv <= 0):
        return None
    return _Vbt(
        vs,
        ts,
        float(np.median(vv / tv)),
        float(np.median(tv - vv)),
        k,
        int(vsteps[0]),
        val_median,
        train_median,
    )


@reports("curve.val-better-than-train")
def rule_val_better_than_train(run: Run) -> list[Finding]:
    both = [r for r in (_val_vs_train(run, "loss", "min"), _val_vs_train(run, "acc", "max")) if r]
    rel = VBT_REL if len(both) == 2 else VBT_REL_ALONE
    if not both or not all(r.ratio <= 1.0 - rel and r.gap >= VBT_ABS for r in both):
        return []
    r = both[0]
    return [
        finding(
            "curve.val-better-than-train",
            f"validation error is {r.ratio * 100:.0f}% of training error near the end of run "
            f"{run.name!r} ({r.vs.name} median {r.val_median:.4g} vs {r.ts.name} "
            f"{r.train_median:.4g}"
            + (f"; {both[1].vs.name} agrees" if len(both) == 2 else "")
            + "): check for train/validation overlap (leakage), or regularization (dropout, "
            "augmentation) that only training sees.",
            how="curve",
            step=ev_step(r.first_step),
            detail=rule_detail(
                run,
                r.vs,
                "validation error / training error near the end",
                train_metric=r.ts.name,
                error_ratio=rnd(r.ratio, 4),
                error_gap=rnd(r.gap),
                late_points=r.late,
                corroborated_by=both[1].vs.name if len(both) == 2 else None,
                threshold={
                    "max_ratio": 1.0 - rel,
                    "min_gap": VBT_ABS,
                    "late_fraction": LATE_FRACTION,
                },
            ),
        )
    ]


# --------------------------------------------------------------------------------------------
# curve.high-bias at chance level — without a target error a run can still be held against the
# trivial baseline: a classifier that learned nothing predicts uniform probabilities, so its
# cross-entropy is ln C and its accuracy 1/C. The training loss's late median lies within
# CHANCE_LOSS_REL of ln C for a class count C in 2..CHANCE_MAX_CLASSES, its smoothed curve never
# went below (1 - CHANCE_LOSS_REL) ln C, and the late accuracy (validation, else training) lies
# within CHANCE_ACC_ABS of 1/C. Both must hold: a loss of 0.69 alone may be a regression's, and
# a classifier that predicts the class prior has a lower loss and the majority's accuracy.

CHANCE_LOSS_REL = 0.03
CHANCE_ACC_ABS = 0.03
CHANCE_MAX_CLASSES = 1000
CHANCE_MIN_POINTS = 5


def _late_median(c: Curve) -> float:
    k = max(2, math.ceil(len(c) * LATE_FRACTION))
    return float(np.median(c.values[-k:]))


@reports("curve.high-bias")
def rule_chance_level(run: Run) -> list[Finding]:
    loss = pick(run, "train")
    acc = pick(run, "val", "acc") or pick(run, "train", "acc")
    if loss is None or acc is None:
        return []
    lc, ac = Curve.of(loss), Curve.of(acc)
    if len(lc) < CHANCE_MIN_POINTS or len(ac) < 2:
        return []
    final = _late_median(lc)
    if not 0 < final < math.log(CHANCE_MAX_CLASSES + 0.5):
        return []
    classes = max(2, round(math.exp(final)))
    ln_c = math.log(classes)
    if (
        abs(final - ln_c) > CHANCE_LOSS_REL * ln_c
        or float(np.min(lc.smooth)) < (1 - CHANCE_LOSS_REL) * ln_c
    ):
        return []
    scale = 1.0 if float(np.max(ac.values)) <= 1.0 else 100.0
    accuracy = _late_median(ac) / scale
    if abs(accuracy - 1.0 / classes) > CHANCE_ACC_ABS:
        return []
    return [
        finding(
            "curve.high-bias",
            f"run {run.name!r} never learned: {loss.name} stays at {final:.4g}, about ln "
            f"{classes} = {ln_c:.4g} (the loss of predicting uniform probabilities over "
            f"{classes} classes), and {acc.name} is {accuracy:.1%}, about 1/{classes} (chance). "
            "Its training error is that of a model that learned nothing: check the learning "
            "rate (too high and too low both stall here), the labels and the loss, and run "
            "dlpilot check on the training script.",
            how="curve",
            step=ev_step(int(lc.steps[-1])),
            detail=rule_detail(
                run,
                loss,
                "training loss at ln C and accuracy at 1/C: chance level",
                classes=classes,
                late_loss=rnd(final),
                ln_classes=rnd(ln_c),
                accuracy_metric=acc.name,
                late_accuracy=rnd(accuracy),
                threshold={"loss_rel": CHANCE_LOSS_REL, "acc_abs": CHANCE_ACC_ABS},
            ),
        )
    ]
