"""curve.high-bias at the class prior: a classifier that learned nothing beyond the class
frequencies.

A model that predicts the class prior for every input has the majority class's rate as its
accuracy, the same at every evaluation of a fixed set (it predicts one class for all), and the
prior's entropy as its cross-entropy. Curves of such a run are flat from the first epochs, which
``curve.saturated`` would read as "trained too long": the truth is that it never learned (the
chance-level rule of ``_rules`` covers the balanced case, loss ln C and accuracy 1/C).

The rule, on the training loss and the validation accuracy (else the training accuracy):

* the accuracy moved by at most PRIOR_ACC_SPREAD over the last half of its points (a model
  that predicts one class scores exactly the same on a fixed set every time; a calibrated model
  still learning can sit near the entropy of its own accuracy, but its accuracy moves), at a rate
  ``a`` of at most PRIOR_MAX_MAJORITY (above it, a model that predicts one class and an excellent
  one look alike on curves);
* the late loss of the split the accuracy is measured on (the mean of its last LATE_FRACTION:
  a per-batch cross-entropy of a prior predictor moves with each batch's class mix) is within
  PRIOR_LOSS_REL of the entropy of a class prior with that majority (``prior_entropies``: for
  a >= 1/2 the two-class prior
  ``a, 1 - a`` only, since a loss of ln 2 with a steady 81% could be a four-class prior or a
  model with real skill and near-uniform outputs; for a < 1/2 the rest shared evenly by C - 1
  classes, the C that fits best);
* and the training loss, as means of blocks of the smoothing window, never went below
  (1 - PRIOR_LOSS_REL) x the entropy of the training split's own prior (from its accuracy when
  logged; the splits' class mixes differ): it never learned anything the prior does not give.
"""

from __future__ import annotations

import math

import numpy as np

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves._signal import block_means, smooth_window
from dlpilot.tools.curves.rules._common import (
    LATE_FRACTION,
    Curve,
    ev_step,
    pick,
    rnd,
    rule_detail,
)
from dlpilot.tools.curves.rules._fit import CHANCE_MAX_CLASSES

PRIOR_ACC_SPREAD = 0.003
PRIOR_MAX_MAJORITY = 0.99
PRIOR_LOSS_REL = 0.05
PRIOR_SKIP = 0.10
# Block means of per-batch losses move with each batch's class mix: their lowest may fall this
# many batch-noise sigmas (of a block mean) below the floor.
PRIOR_NOISE_Z = 3.0
PRIOR_MIN_LOSS_POINTS = 5
PRIOR_MIN_ACC_POINTS = 4


def prior_entropies(majority: float) -> list[tuple[int, float]]:
    """(classes, entropy in nats) of the class priors whose largest class has probability
    ``majority`` and whose other classes share the rest evenly: two classes when the majority is
    at least a half (a loss that would fit three or more classes as well is not told apart from
    a model with some skill; see the module docstring), else every count from 1/majority up to
    CHANCE_MAX_CLASSES."""
    if not 0 < majority < 1:
        raise ValueError(f"majority must be in (0, 1), got {majority}")
    first = 2 if majority >= 0.5 else math.ceil(1 / majority - 1e-9)
    last = 2 if majority >= 0.5 else CHANCE_MAX_CLASSES
    rest = 1 - majority
    return [
        (c, -majority * math.log(majority) - rest * math.log(rest / (c - 1)))
        for c in range(max(2, first), last + 1)
    ]


def _block_levels(c: Curve) -> tuple[np.ndarray, float]:
    """Means of blocks of the smoothing window after the first PRIOR_SKIP of points (means, not
    medians: the median of per-batch losses sits below their mean), and the noise batch
    sampling alone gives such a mean."""
    after = c.values[math.ceil(len(c) * PRIOR_SKIP) :]
    return block_means(after, smooth_window(int(after.shape[0])))


@reports("curve.high-bias")
def rule_class_prior(run: Run) -> list[Finding]:
    loss = pick(run, "train")
    acc = pick(run, "val", "acc") or pick(run, "train", "acc")
    if loss is None or acc is None:
        return []
    lc, ac = Curve.of(loss), Curve.of(acc)
    if len(lc) < PRIOR_MIN_LOSS_POINTS or len(ac) < PRIOR_MIN_ACC_POINTS:
        return []
    scale = 1.0 if float(np.max(ac.values)) <= 1.0 else 100.0
    late_acc = ac.values[len(ac) // 2 :] / scale
    spread = float(np.max(late_acc) - np.min(late_acc))
    majority = float(np.median(late_acc))
    if spread > PRIOR_ACC_SPREAD or not 0 < majority <= PRIOR_MAX_MAJORITY:
        return []
    # the level on the split the accuracy is measured on: its class mix sets both
    same = pick(run, acc.name.partition("/")[0]) or loss
    sc = Curve.of(same)
    k = max(2, math.ceil(len(sc) * LATE_FRACTION))
    late_loss = float(np.mean(sc.values[-k:]))
    if not 0 < majority < 1:
        return []
    classes, entropy = min(prior_entropies(majority), key=lambda ce: abs(ce[1] - late_loss))
    if abs(late_loss - entropy) > PRIOR_LOSS_REL * entropy:
        return []
    # and the training loss never went below its own split's prior (the training set's class
    # mix, from its accuracy when logged)
    train_acc = pick(run, "train", "acc")
    train_floor = entropy
    if train_acc is not None and Curve.of(train_acc).values.shape[0]:
        tv = Curve.of(train_acc).values
        rate = float(np.median(tv[len(tv) // 2 :])) / (100.0 if float(np.max(tv)) > 1 else 1.0)
        if 0 < rate < 1:
            _, train_floor = min(prior_entropies(rate), key=lambda ce: abs(ce[0] - classes))
    blocks, batch_noise = _block_levels(lc)
    lowest = float(np.min(blocks))
    if lowest < (1 - PRIOR_LOSS_REL) * train_floor - PRIOR_NOISE_Z * batch_noise:
        return []
    return [
        finding(
            "curve.high-bias",
            f"run {run.name!r} learned nothing beyond the class prior: {acc.name} stays at "
            f"{majority:.1%} (within {spread:.2%} over its last {late_acc.shape[0]} "
            f"evaluations, the rate of always predicting the largest class) and {same.name} "
            f"at {late_loss:.4g}, the entropy {entropy:.4g} of a {classes}-class prior with "
            f"that majority, and never lower. Flat curves here are high bias, not a run "
            "that trained too long: "
            "check that inputs and labels line up (shuffled separately, a wrong column), the "
            "learning rate, and that the model sees the features; then try a bigger model.",
            how="curve",
            step=ev_step(int(lc.steps[-1])),
            detail=rule_detail(
                run,
                loss,
                "accuracy flat at the majority rate and loss at the prior's entropy",
                accuracy_metric=acc.name,
                majority_rate=rnd(majority),
                accuracy_spread=rnd(spread),
                level_metric=same.name,
                late_loss=rnd(late_loss),
                lowest_smoothed_loss=rnd(lowest),
                prior_entropy=rnd(entropy),
                classes=classes,
                threshold={
                    "acc_spread": PRIOR_ACC_SPREAD,
                    "max_majority": PRIOR_MAX_MAJORITY,
                    "loss_rel": PRIOR_LOSS_REL,
                },
            ),
        )
    ]


__all__ = ["prior_entropies", "rule_class_prior"]
