"""The curve rules: each reads one run's series and returns findings (how = "curve").

Every rule documents its thresholds as named constants next to it. Where ``shared/checks.md``
gives a published threshold it is used as is; the guards added around it (minimum points,
smoothing, noise margins) are what keeps a rule quiet on noisy but healthy curves, and each says
why. Every finding's evidence carries the run, the metric, the rule's name, its thresholds and the
values that crossed them, so a reader can check the call.

Conventions: a rule never speaks on fewer points than its ``*_MIN_POINTS``; trend tests run on
the rolling-median smoothed curve (``_signal.smooth``) and compare medians of blocks of points,
never single points; non-finite values are dropped before trend tests (``loss.nonfinite`` and
``curve.diverged`` report them). curve.unstable is in ``_unstable`` and the class-prior
high-bias rule in ``_bias`` (both built on this module's helpers); ``_diagnose`` runs them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    FloatArray,
    Goal,
    IntArray,
    infer_goal,
    is_loss,
    json_float,
    position,
    rolling_median,
    smooth,
    split_name,
    step_noise,
    words,
)


@dataclass(eq=False)
class Curve:
    """A series' finite points with their smoothed version and a robust noise estimate."""

    series: Series
    steps: IntArray
    values: FloatArray
    smooth: FloatArray
    noise: float

    @property
    def name(self) -> str:
        return self.series.name

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @classmethod
    def of(cls, s: Series) -> Curve:
        mask = np.isfinite(s.values)
        steps, values = s.steps[mask], s.values[mask].astype(np.float64)
        sm = smooth(values) if values.shape[0] else values
        return cls(s, steps, values, sm, step_noise(values))

    def at(self, step: float) -> float:
        """The smoothed value at ``step`` (linear interpolation, clamped at the ends)."""
        return float(np.interp(step, self.steps.astype(np.float64), self.smooth))


def _ev_step(step: float | None) -> int | None:
    return None if step is None or step < 0 else int(step)


def _r(x: float, digits: int = 6) -> JsonValue:
    """A rounded float for evidence (non-finite values become strings)."""
    v = json_float(x)
    return round(v, digits) if isinstance(v, float) else v


def _block(values: FloatArray, fraction: float, minimum: int) -> int:
    return max(minimum, math.ceil(int(values.shape[0]) * fraction))


# --------------------------------------------------------------------------------------------
# Which series a rule reads


def pick(run: Run, split: str, quantity: str = "loss") -> Series | None:
    """``split/quantity`` if logged, else the first ``split/*`` series whose name says loss
    (for quantity "loss"), in name order."""
    s = run.get(f"{split}/{quantity}")
    if s is not None or quantity != "loss":
        return s
    for name in sorted(run.series):
        if split_name(name)[0] == split and is_loss(name):
            return run.series[name]
    return None


def loss_series(run: Run) -> list[Series]:
    return [run.series[n] for n in sorted(run.series) if is_loss(n)]


def main_loss(run: Run) -> Series | None:
    """The training loss, or the first loss of any split when no training loss is logged."""
    s = pick(run, "train")
    if s is not None:
        return s
    losses = loss_series(run)
    return losses[0] if losses else None


def _detail(run: Run, s: Series, rule: str, **extra: JsonValue) -> dict[str, JsonValue]:
    d: dict[str, JsonValue] = {
        "run": run.name,
        "metric": s.name,
        "original": s.original,
        "rule": rule,
    }
    d.update(extra)
    return d


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
                step=_ev_step(int(s.steps[i])),
                detail=_detail(
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
                step=_ev_step(int(s.steps[i])),
                detail=_detail(
                    run,
                    s,
                    "negative value of a non-negative loss",
                    value=_r(float(s.values[i])),
                    lowest=_r(lowest),
                    negative_points=int(neg.sum()),
                    why_nonnegative=why,
                    threshold=-LOSS_NEGATIVE_TOLERANCE,
                ),
            )
        )
    return out


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
                    step=_ev_step(int(s.steps[i])),
                    detail=_detail(
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
                step=_ev_step(int(c.steps[imin])),
                detail=_detail(
                    run,
                    s,
                    "loss >= ratio x its minimum and rising",
                    min_value=_r(lo),
                    min_step=int(c.steps[imin]),
                    final_value=_r(final),
                    final_step=int(c.steps[-1]),
                    first_value=_r(first),
                    ratio=_r(ratio, 3),
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
        return _r(float(lr.values[j]))

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
                step=_ev_step(int(steps[j])),
                detail=_detail(
                    run,
                    s,
                    "loss non-finite within the first steps",
                    first_value=_r(first),
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
                step=_ev_step(int(fs[j])),
                detail=_detail(
                    run,
                    s,
                    "loss >= ratio x its first value within the first steps",
                    first_value=_r(first),
                    peak_value=_r(peak),
                    lr=lr_at(int(fs[j])),
                    ratio=_r(peak / first, 3),
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
        k = _block(v, INCREASE_BLOCK_FRACTION, INCREASE_BLOCK_MIN)
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
                    step=_ev_step(int(st[-k])),
                    detail=_detail(
                        run,
                        s,
                        "median of the last block above the first block",
                        window=label,
                        early_median=_r(early),
                        late_median=_r(late),
                        block_points=k,
                        noise_sigma=_r(resid_sigma),
                        threshold={
                            "min_relative_rise": INCREASE_MIN_REL,
                            "noise_z": INCREASE_NOISE_Z,
                            "block_fraction": INCREASE_BLOCK_FRACTION,
                        },
                    ),
                )
            ]
    return []


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


def _as_error(c: Curve, goal: Goal) -> Curve:
    if goal == "min":
        return c
    return Curve(c.series, c.steps, -c.values, -c.smooth, c.noise)


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
        v = _as_error(Curve.of(vs), goal)
        t = _as_error(Curve.of(ts), tgoal)
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
                    step=_ev_step(int(step_min)),
                    detail=_detail(
                        run,
                        vs,
                        "validation worse after its best while training improves",
                        train_metric=ts.name,
                        best_value=_r(sign * lo),
                        best_step=int(step_min),
                        final_value=_r(sign * final),
                        final_step=int(step_end),
                        train_at_best=_r(sign * t_at_min),
                        train_final=_r(sign * t_end),
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
# curve.unstable lives in _unstable.py. LATE_FRACTION: the last quarter of the points counts as
# late training (the playbook's 'last 25% of steps'); several rules read it.

LATE_FRACTION = 0.25


# --------------------------------------------------------------------------------------------
# curve.saturated / curve.still-improving — where in training the best point lies (playbook:
# [best point in the first 10% of steps] = too many steps; [in the last 25%] = train longer).
# The goal series is the validation metric (the given metric, else val/loss, else val/acc), or
# the training loss when no validation is logged. Because the raw best point of a flat, noisy
# curve is anywhere, the "best" position is where the smoothed curve first comes within a
# tolerance of its best: max(IMPROVE_NOISE_Z x noise, IMPROVE_RANGE_FRACTION x the total
# improvement), i.e. where 95% of the improvement was done. (With 1% a linear model's val loss
# creeping from 0.1979 to 0.1943 over 38 epochs after converging in two read as "still
# improving at 26%"; see the real-run tests.)

SATURATED_POSITION = 0.10
STILL_IMPROVING_POSITION = 0.75
# How few points are enough: "best in the first 10%" needs ten points for 10% to be more than the
# first point; "still improving" is read from STILL_IMPROVING_MIN_POINTS (a Keras history of a
# few epochs whose validation loss falls every epoch is the clearest case there is): from four
# points the best can lie in the last quarter only if the last point is it, beyond the noise
# that the second differences of those points show.
SATURATION_MIN_POINTS = 10
STILL_IMPROVING_MIN_POINTS = 4
IMPROVE_NOISE_Z = 2.0
IMPROVE_RANGE_FRACTION = 0.05


def goal_series(run: Run, metric: str | None, goal: Goal | None) -> tuple[Series, Goal] | None:
    cands: list[tuple[str, Goal | None]] = []
    if metric:
        q = split_name(metric)[1] if "/" in metric else metric
        cands += [(metric, goal) if "/" in metric else (f"val/{q}", goal), (f"train/{q}", goal)]
    cands += [("val/loss", "min"), ("val/acc", "max"), ("train/loss", "min")]
    for name, g in cands:
        s = run.get(name)
        g2 = g or infer_goal(name)
        if s is not None and g2 is not None:
            return s, g2
    return None


def best_position(c: Curve, goal: Goal) -> tuple[float, int, float, float]:
    """(position 0..1 where the smoothed curve first gets within tolerance of its best, that
    step, the smoothed best value, the tolerance)."""
    e = _as_error(c, goal)
    best = float(np.min(e.smooth))
    # the raw first value counts too: the edge of a rolling median hides a steep first drop
    rng = float(max(np.max(e.smooth), e.values[0]) - best)
    tol = max(IMPROVE_NOISE_Z * e.noise, IMPROVE_RANGE_FRACTION * rng)
    i = int(np.argmax(e.smooth <= best + tol))
    pos = position(float(c.steps[i]), float(c.steps[0]), float(c.steps[-1]))
    return pos, int(c.steps[i]), best if goal == "min" else -best, tol


@reports("curve.saturated", "curve.still-improving")
def rule_training_length(run: Run, metric: str | None, goal: Goal | None) -> list[Finding]:
    picked = goal_series(run, metric, goal)
    if picked is None:
        return []
    s, g = picked
    c = Curve.of(s)
    if len(c) < STILL_IMPROVING_MIN_POINTS:
        return []
    pos, step, best, tol = best_position(c, g)
    raw_i = int(np.argmin(c.values) if g == "min" else np.argmax(c.values))
    detail = _detail(
        run,
        s,
        "position of the best point in training",
        goal=g,
        best_position=_r(pos, 4),
        best_step=step,
        best_smoothed=_r(best),
        tolerance=_r(tol),
        raw_best_step=int(c.steps[raw_i]),
        raw_best_value=_r(float(c.values[raw_i])),
        first_step=int(c.steps[0]),
        last_step=int(c.steps[-1]),
        threshold={
            "saturated_before": SATURATED_POSITION,
            "still_improving_after": STILL_IMPROVING_POSITION,
            "saturation_min_points": SATURATION_MIN_POINTS,
            "still_improving_min_points": STILL_IMPROVING_MIN_POINTS,
            "noise_z": IMPROVE_NOISE_Z,
            "range_fraction": IMPROVE_RANGE_FRACTION,
        },
    )
    if pos <= SATURATED_POSITION and len(c) >= SATURATION_MIN_POINTS:
        return [
            finding(
                "curve.saturated",
                f"{s.name} reached its best level ({best:.4g}, within {tol:.2g}) by step {step}, "
                f"{pos * 100:.0f}% into training, and did not improve after that in run "
                f"{run.name!r}: training is likely longer than it needs to be (or it stopped "
                "learning early).",
                how="curve",
                step=_ev_step(step),
                detail=detail,
            )
        ]
    if pos >= STILL_IMPROVING_POSITION:
        return [
            finding(
                "curve.still-improving",
                f"{s.name} was still improving at {pos * 100:.0f}% of training (step {step} of "
                f"{int(c.steps[-1])}) in run {run.name!r}: train longer or re-tune the decay.",
                how="curve",
                step=_ev_step(step),
                detail=detail,
            )
        ]
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
            step=_ev_step(r.first_step),
            detail=_detail(
                run,
                r.vs,
                "validation error / training error near the end",
                train_metric=r.ts.name,
                error_ratio=_r(r.ratio, 4),
                error_gap=_r(r.gap),
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


RunRule = Callable[[Run], list[Finding]]

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
            step=_ev_step(int(lc.steps[-1])),
            detail=_detail(
                run,
                loss,
                "training loss at ln C and accuracy at 1/C: chance level",
                classes=classes,
                late_loss=_r(final),
                ln_classes=_r(ln_c),
                accuracy_metric=acc.name,
                late_accuracy=_r(accuracy),
                threshold={"loss_rel": CHANCE_LOSS_REL, "acc_abs": CHANCE_ACC_ABS},
            ),
        )
    ]


RUN_RULES: tuple[RunRule, ...] = (
    rule_loss_nonfinite,
    rule_loss_negative,
    rule_diverged,
    rule_lr_too_high,
    rule_train_loss_increasing,
    rule_overfitting,
    rule_val_better_than_train,
    rule_chance_level,
)


__all__ = [
    "LATE_FRACTION",
    "RUN_RULES",
    "Curve",
    "best_position",
    "cannot_be_negative",
    "goal_series",
    "loss_series",
    "main_loss",
    "pick",
    "rule_diverged",
    "rule_loss_negative",
    "rule_loss_nonfinite",
    "rule_lr_too_high",
    "rule_overfitting",
    "rule_train_loss_increasing",
    "rule_training_length",
    "rule_val_better_than_train",
]
