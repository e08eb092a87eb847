"""Curve rules on the loss values themselves: ``loss.nonfinite`` and ``loss.negative``."""

from __future__ import annotations

import numpy as np

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    json_float,
    split_name,
    words,
)
from dlpilot.tools.curves.rules._common import (
    ev_step,
    loss_series,
    rnd,
    rule_detail,
)

# --------------------------------------------------------------------------------------------
# loss.nonfinite — a loss is NaN or +-Inf; the first such step is the evidence. No threshold:
# one non-finite loss value is already an error.


@reports("loss.nonfinite")
def rule_loss_nonfinite(run: Run) -> list[Finding]:
    out: list[Finding] = []
    for s in loss_series(run):
        bad = ~np.isfinite(s.values)
        if not bad.any():
            continue
        i = int(np.argmax(bad))
        fin = np.isfinite(s.values[:i])
        last_ok = int(s.steps[:i][fin][-1]) if fin.any() else None
        out.append(
            finding(
                "loss.nonfinite",
                f"{s.name} is {json_float(float(s.values[i]))} at step {int(s.steps[i])} "
                f"({int(bad.sum())} of {len(s)} points are non-finite) in run {run.name!r}.",
                how="curve",
                step=ev_step(int(s.steps[i])),
                detail=rule_detail(
                    run,
                    s,
                    "first non-finite value of a loss",
                    value=json_float(float(s.values[i])),
                    nonfinite_points=int(bad.sum()),
                    points=len(s),
                    last_finite_step=last_ok,
                    recovered=bool(np.isfinite(s.values[i:]).any()),
                    threshold="any NaN or Inf",
                ),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# loss.negative — a loss that cannot be negative went below zero.
#
# Which losses cannot be negative is decided from the name, because a generic "loss" may be the
# negative log-likelihood of a continuous model (Gaussian NLL, normalizing flows, VAEs' ELBO
# terms), which is negative for good reasons. A loss counts as non-negative when a word of its
# normalized or original name is in NONNEGATIVE_LOSS_WORDS (cross-entropy, BCE, MSE, ...), or
# when it is a generic "loss" in a run that also logs an accuracy for the same split (a
# classifier's loss is a cross-entropy). "nll" alone is not enough: NLLLoss on log-probabilities
# is non-negative but a density's NLL is not.

NONNEGATIVE_LOSS_WORDS = frozenset(
    {
        "ce",
        "xent",
        "crossentropy",
        "cross",
        "entropy",
        "bce",
        "mse",
        "mae",
        "l1",
        "l2",
        "rmse",
        "huber",
        "smoothl1",
        "smooth",
        "hinge",
        "kl",
        "kld",
        "focal",
        "ctc",
        "dice",
        "triplet",
        "contrastive",
        "perplexity",
        "ppl",
        "sce",
    }
)
# Values above minus this tolerance are rounding noise (a label-smoothed cross-entropy at its
# floor, a float16 sum), not a negative loss.
LOSS_NEGATIVE_TOLERANCE = 1e-6


def cannot_be_negative(run: Run, s: Series) -> tuple[bool, str]:
    """Whether a loss series cannot be negative, and why (for the evidence)."""
    toks = set(words(s.name)) | set(words(s.original))
    hit = sorted(toks & NONNEGATIVE_LOSS_WORDS)
    if hit:
        return True, f"its name says {hit[0]!r}, a loss that is never negative"
    split, quantity = split_name(s.name)
    if quantity == "loss" and not ({"nll", "likelihood", "elbo", "logprob"} & toks):
        accs = [
            n
            for n in run.series
            if split_name(n)[0] == split and {"acc", "accuracy"} & set(words(n))
        ]
        if accs:
            return True, f"generic loss of a classifier (the run logs {accs[0]}): a cross-entropy"
    return False, ""


@reports("loss.negative")
def rule_loss_negative(run: Run) -> list[Finding]:
    out: list[Finding] = []
    for s in loss_series(run):
        ok, why = cannot_be_negative(run, s)
        if not ok:
            continue
        neg = np.isfinite(s.values) & (s.values < -LOSS_NEGATIVE_TOLERANCE)
        if not neg.any():
            continue
        i = int(np.argmax(neg))
        lowest = float(np.min(s.values[neg]))
        out.append(
            finding(
                "loss.negative",
                f"{s.name} is negative ({s.values[i]:.4g} at step {int(s.steps[i])}, lowest "
                f"{lowest:.4g}) but cannot be: {why}. Check the loss inputs (e.g. NLLLoss on raw "
                f"logits instead of log-probabilities) in run {run.name!r}.",
                how="curve",
                step=ev_step(int(s.steps[i])),
                detail=rule_detail(
                    run,
                    s,
                    "negative value of a non-negative loss",
                    value=rnd(float(s.values[i])),
                    lowest=rnd(lowest),
                    negative_points=int(neg.sum()),
                    why_nonnegative=why,
                    threshold=-LOSS_NEGATIVE_TOLERANCE,
                ),
            )
        )
    return out
