"""Curve rules of a run that blows up or trains the wrong way: ``curve.diverged``,
``lr.too-high`` (an early blow-up) and ``curve.train-loss-increasing``."""

from __future__ import annotations

import math

import numpy as np
from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    json_float,
    rolling_median,
)
from dlpilot.tools.curves.rules._common import (
    Curve,
    block_len,
    ev_step,
    main_loss,
    pick,
    rnd,
    rule_detail,
)

# --------------------------------------------------------------------------------------------
# curve.diverged — the loss becomes non-finite and stays so (logging stops or ends at NaN), or it
# explodes: [>= 2x its minimum and rising] (published). Read on the smoothed curve: the final
# smoothed level is at least DIVERGE_RATIO x the smoothed minimum, the minimum lies before it,
# and the rise gives back at least DIVERGE_GIVEBACK of the progress made from the first value
# to the minimum. That guard keeps a loss that fell from 2.3 to 0.01 and creeps to 0.025 (2.5x
# its minimum, a rounding-level change on the curve's scale) out of "diverged"; such a creep is
# curve.train-loss-increasing's business. Only positive minima are compared by ratio.
# The validation loss is read too, for runs whose training loss hides the blow-up (Hugging Face's
# Trainer logs a filtered training loss once steps turn NaN): non-finite to the end, or
# DIVERGE_VAL_RATIO x its minimum. A validation loss rising 2-10x is over-fitting, not divergence
# (curve.overfitting), so its ratio is far higher.

DIVERGE_RATIO = 2.0
DIVERGE_VAL_RATIO = 50.0
DIVERGE_GIVEBACK = 0.5
DIVERGE_MIN_POINTS = 5


@reports("curve.diverged")
def rule_diverged(run: Run) -> list[Finding]:
    train = main_loss(run)
    val = pick(run, "val")
    for s, ratio in ((train, DIVERGE_RATIO), (val, DIVERGE_VAL_RATIO)):
        if s is not None:
            found = _diverged(run, s, ratio)
            if found:
                return found
    return []


def _diverged(run: Run, s: Series, diverge_ratio: float) -> list[Finding]:
    if len(s) < DIVERGE_MIN_POINTS:
        return []
    bad = ~np.isfinite(s.values)
    if bad.any():
        i = int(np.argmax(bad))
        if not np.isfinite(s.values[i:]).any():
            return [
                finding(
                    "curve.diverged",
                    f"{s.name} became {json_float(float(s.values[i]))} at step {int(s.steps[i])} "
                    f"and never came back in run {run.name!r}.",
                    how="curve",
                    step=ev_step(int(s.steps[i])),
                    detail=rule_detail(
                        run,
                        s,
                        "loss non-finite to the end",
                        value=json_float(float(s.values[i])),
                        threshold="non-finite until the last logged point",
                    ),
                )
            ]
    c = Curve.of(s)
    if len(c) < DIVERGE_MIN_POINTS:
        return []
    sm = c.smooth
    imin = int(np.argmin(sm))
    lo, first, final = float(sm[imin]), float(sm[0]), float(sm[-1])
    if lo <= 0 or imin == len(c) - 1:
        return []
    ratio = final / lo
    giveback_ok = (final - lo) >= DIVERGE_GIVEBACK * (first - lo)
    if ratio >= diverge_ratio and giveback_ok:
        return [
            finding(
                "curve.diverged",
                f"{s.name} exploded: its smoothed value rose from a minimum of {lo:.4g} at step "
                f"{int(c.steps[imin])} to {final:.4g} at step {int(c.steps[-1])} ({ratio:.1f}x) in "
                f"run {run.name!r}.",
                how="curve",
                step=ev_step(int(c.steps[imin])),
                detail=rule_detail(
                    run,
                    s,
                    "loss >= ratio x its minimum and rising",
                    min_value=rnd(lo),
                    min_step=int(c.steps[imin]),
                    final_value=rnd(final),
                    final_step=int(c.steps[-1]),
                    first_value=rnd(first),
                    ratio=rnd(ratio, 3),
                    threshold={"ratio": diverge_ratio, "giveback": DIVERGE_GIVEBACK},
                ),
            )
        ]
    return []


# --------------------------------------------------------------------------------------------
# lr.too-high — the loss blows up within the first steps: within the first LR_EARLY_FRACTION of
# the points (at least LR_EARLY_MIN_POINTS), the loss turns non-finite or a 3-point rolling
# median of it reaches LR_BLOWUP_RATIO x the first finite value (the median ignores one bad
# batch). No published number exists for the curve form; 3x the initial loss is far beyond
# minibatch noise at initialization (a classifier starts near ln C and a good step lowers it).

LR_EARLY_FRACTION = 0.10
LR_EARLY_MIN_POINTS = 5
LR_BLOWUP_RATIO = 3.0
LR_MIN_POINTS = 3


@reports("lr.too-high")
def rule_lr_too_high(run: Run) -> list[Finding]:
    s = main_loss(run)
    if s is None or len(s) < LR_MIN_POINTS:
        return []
    n_early = max(LR_EARLY_MIN_POINTS, math.ceil(len(s) * LR_EARLY_FRACTION))
    steps, vals = s.steps[:n_early], s.values[:n_early]
    fin = np.isfinite(vals)
    if not fin.any():
        return []  # non-finite from the very first point: not an LR symptom (loss.nonfinite)
    i0 = int(np.argmax(fin))
    first = float(vals[i0])
    lr = run.get("lr")

    def lr_at(step: int) -> JsonValue:
        if lr is None or len(lr) == 0:
            return None
        j = int(np.clip(np.searchsorted(lr.steps, step, side="right") - 1, 0, len(lr) - 1))
        return rnd(float(lr.values[j]))

    bad = ~fin
    bad[:i0] = False
    if bad.any():
        j = int(np.argmax(bad))
        return [
            finding(
                "lr.too-high",
                f"{s.name} went from {first:.4g} to {json_float(float(vals[j]))} within the first "
                f"{n_early} logged points (step {int(steps[j])}) in run {run.name!r}: the learning "
                "rate is likely too high (try a lower peak lr, warmup or gradient clipping).",
                how="curve",
                step=ev_step(int(steps[j])),
                detail=rule_detail(
                    run,
                    s,
                    "loss non-finite within the first steps",
                    first_value=rnd(first),
                    value=json_float(float(vals[j])),
                    lr=lr_at(int(steps[j])),
                    early_points=n_early,
                    threshold={
                        "early_fraction": LR_EARLY_FRACTION,
                        "early_min_points": LR_EARLY_MIN_POINTS,
                    },
                ),
            )
        ]
    if first <= 0:
        return []
    fv, fs = vals[i0:], steps[i0:]  # all finite: the branch above returned otherwise
    med = rolling_median(fv, 3) if fv.shape[0] >= 3 else fv
    j = int(np.argmax(med))
    peak = float(med[j])
    if peak >= LR_BLOWUP_RATIO * first:
        return [
            finding(
                "lr.too-high",
                f"{s.name} blew up from {first:.4g} to {peak:.4g} ({peak / first:.1f}x) by step "
                f"{int(fs[j])}, within the first {n_early} logged points of run {run.name!r}: "
                "the learning rate is likely too high (try a lower peak lr, warmup or gradient "
                "clipping).",
                how="curve",
                step=ev_step(int(fs[j])),
                detail=rule_detail(
                    run,
                    s,
                    "loss >= ratio x its first value within the first steps",
                    first_value=rnd(first),
                    peak_value=rnd(peak),
                    lr=lr_at(int(fs[j])),
                    ratio=rnd(peak / first, 3),
                    early_points=n_early,
                    threshold={
                        "ratio": LR_BLOWUP_RATIO,
                        "early_fraction": LR_EARLY_FRACTION,
                        "early_min_points": LR_EARLY_MIN_POINTS,
                    },
                ),
            )
        ]
    return []


# --------------------------------------------------------------------------------------------
# curve.train-loss-increasing — the training loss trends upward. Two windows are tested: the
# whole run and its second half. In each, the median of the first INCREASE_BLOCK_FRACTION of the
# window's points is compared with the median of its last block; the loss "increases" when the
# late block is higher by at least INCREASE_MIN_REL of the early block's level *and* by
# INCREASE_NOISE_Z standard errors of a block median (so a noisy flat or falling curve is never
# called increasing). Not reported when curve.diverged is (the stronger finding).

INCREASE_MIN_POINTS = 8
INCREASE_BLOCK_FRACTION = 0.2
INCREASE_BLOCK_MIN = 2
INCREASE_MIN_REL = 0.10
INCREASE_NOISE_Z = 3.0


@reports("curve.train-loss-increasing")
def rule_train_loss_increasing(run: Run) -> list[Finding]:
    s = pick(run, "train")
    if s is None:
        return []
    c = Curve.of(s)
    if len(c) < INCREASE_MIN_POINTS:
        return []
    resid_sigma = float(np.std(c.values - c.smooth)) if len(c) > 2 else 0.0
    for label, start in (("whole run", 0), ("second half", len(c) // 2)):
        v, st = c.values[start:], c.steps[start:]
        if v.shape[0] < INCREASE_MIN_POINTS // 2:
            continue
        k = block_len(v, INCREASE_BLOCK_FRACTION, INCREASE_BLOCK_MIN)
        early, late = float(np.median(v[:k])), float(np.median(v[-k:]))
        rise = late - early
        se = 1.2533 * resid_sigma * math.sqrt(2.0 / k)  # std. error of a difference of medians
        if rise >= INCREASE_MIN_REL * abs(early) and rise > INCREASE_NOISE_Z * se and rise > 0:
            pct = rise / abs(early) * 100 if early else math.inf
            return [
                finding(
                    "curve.train-loss-increasing",
                    f"{s.name} trends upward over the {label} of run {run.name!r}: median "
                    f"{early:.4g} around step {int(st[k // 2])} -> {late:.4g} around step "
                    f"{int(st[-1 - k // 2])} (+{pct:.0f}%)."
                    " A training loss that rises usually means a bug (sign, stale gradients, "
                    "labels) or a learning rate that grows too large.",
                    how="curve",
                    step=ev_step(int(st[-k])),
                    detail=rule_detail(
                        run,
                        s,
                        "median of the last block above the first block",
                        window=label,
                        early_median=rnd(early),
                        late_median=rnd(late),
                        block_points=k,
                        noise_sigma=rnd(resid_sigma),
                        threshold={
                            "min_relative_rise": INCREASE_MIN_REL,
                            "noise_z": INCREASE_NOISE_Z,
                            "block_fraction": INCREASE_BLOCK_FRACTION,
                        },
                    ),
                )
            ]
    return []
