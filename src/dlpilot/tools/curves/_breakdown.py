"""Bias / variance / data-mismatch breakdown of one run (seed 001, sections 3.3 and 4.1).

Errors per split are read at the end of training, at the last logged step of the training (else
dev) series, so the breakdown judges the model the configuration produced, and on the same
footing (``_Footing``), each as a level over the last evaluation interval: an evaluation series
as the mean of its two evaluations bracketing it, a per-epoch training metric as its last value
(a mean over that epoch), a per-step training series as the mean of its points in it; an
evaluation of the training set is preferred when one is logged (``TRAIN_EVALUATION_NAMES``).
(At the best-dev checkpoint of an overfitting
run the training error is still high and the gaps would say "bias" and ask for a bigger model,
the wrong advice; the best-dev step and error are reported beside, and curve.overfitting says to
keep that checkpoint.)
Then::

    avoidable bias = train error - target error          (target = human level / baseline)
    variance       = train-dev error - train error       (dev error - train error without train-dev)
    data mismatch  = dev error - train-dev error         (needs a train-dev series)

Error is ``1 - accuracy`` when accuracies are logged (``1 - acc/100`` for percentages), else the
loss; with ``metric`` / ``goal`` any logged quantity can be used (a larger-is-better metric in
[0, 1] becomes ``1 - value``; an unbounded one becomes ``-value``). ``target_error`` is in the same
units as the error. A gap counts when it is at least GAP_RELATIVE of the reference error (the dev
error, else the largest error known) and at least GAP_ABSOLUTE (fraction errors only). The
verdict names the largest gap that counts. What the logs lack for a verdict is listed in
``missing`` rather than guessed; "insufficient data" is the verdict when no gap counts and bias or
variance could not be computed.
"""

from __future__ import annotations

import numpy as np

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._results import ErrorBreakdown, Verdict
from dlpilot.tools.curves._signal import (
    Goal,
    infer_goal,
    smooth_window,
    split_name,
    step_noise,
)
from dlpilot.tools.curves.rules._common import Curve

# A gap counts when it is at least this fraction of the reference error (Ng's examples: 1% human,
# 8% train, 10% dev -> bias 7 points = 70% of dev error; 7.5% / 8% / 10% -> variance 2 = 20%).
GAP_RELATIVE = 0.20
# ... and, for errors that are fractions (1 - accuracy), at least one percentage point.
GAP_ABSOLUTE = 0.01
# ... and at least GAP_NOISE_Z x the dev error's evaluation-to-evaluation noise over its last
# GAP_NOISE_POINTS evaluations.
GAP_NOISE_Z = 2.0
GAP_NOISE_POINTS = 6


NEXT_ACTIONS: dict[str, list[str]] = {
    "high bias": [
        "Try a larger / deeper model.",
        "Try a better architecture or better features.",
        "Train longer or slightly increase the learning rate.",
        "Reduce regularization.",
    ],
    "high variance": [
        "Collect more training data.",
        "Use stronger regularization (L2, dropout, data augmentation).",
        "Reduce model capacity.",
    ],
    "data mismatch": [
        "Collect training data closer to the dev / test distribution.",
        "Reweight training samples (domain reweighting).",
        "Try domain adaptation methods.",
    ],
    "instability": [
        "Add learning-rate warmup (linear from 0 to the target lr; scan the warmup length).",
        "Add gradient clipping (record the gradient norm distribution; start near its 90th "
        "percentile).",
        "Check architecture hygiene: residual structure, normalization, initialization.",
        "As a last resort, lower the peak learning rate.",
    ],
    "balanced": [
        "No gap dominates: run error analysis on ~100-200 dev errors, categorize them by "
        "scenario / class / label issue, and attack the largest actionable category.",
    ],
    "insufficient data": [
        "Log what is listed under `missing`, then diagnose again.",
    ],
}

_GAP_VERDICT: dict[str, Verdict] = {
    "avoidable_bias": "high bias",
    "variance": "high variance",
    "mismatch": "data mismatch",
}
_VERDICT_FINDING = {
    "high bias": "curve.high-bias",
    "high variance": "curve.high-variance",
    "data mismatch": "curve.data-mismatch",
}


def _check_goal(goal: str | None) -> Goal | None:
    if goal is None or goal in ("min", "max"):
        return goal  # type: ignore[return-value]
    raise InvalidArgument(f"goal must be 'min', 'max' or None, got {goal!r}")


def choose_metric(run: Run, metric: str | None, goal: Goal | None) -> tuple[str, Goal] | None:
    """The quantity errors are made of: the given one; else acc, then loss, when both train and
    dev log it; else acc when two splits log it, else loss."""
    goal = _check_goal(goal)
    if metric:
        q = split_name(metric)[1]
        g = goal or infer_goal(q)
        if g is None:
            raise InvalidArgument(
                f"cannot tell whether {metric!r} should be minimized or maximized; pass goal"
            )
        return q, g
    splits = {"train", "train-dev", "val", "test"}
    candidates: tuple[tuple[str, Goal], ...] = (
        ("acc", "max"),
        ("accuracy", "max"),
        ("loss", "min"),
    )
    for q, g in candidates:  # first a quantity both train and dev log: the variance needs both
        if f"train/{q}" in run.series and f"val/{q}" in run.series:
            return q, g
    for q, g in candidates:
        have = [n for n in run.series if split_name(n) in {(sp, q) for sp in splits}]
        if len(have) >= 2 or (q == "loss" and have):
            return q, g
    return None


def to_error(values: np.ndarray, goal: Goal) -> tuple[np.ndarray, str, bool]:
    """(error values, how they were made, whether they are fractions)."""
    fin = values[np.isfinite(values)]
    if goal == "min":
        return values, "value (smaller is better)", False
    if fin.size and np.all((fin >= 0) & (fin <= 1)):
        return 1.0 - values, "1 - value", True
    if fin.size and np.all((fin >= 0) & (fin <= 100)):
        return 1.0 - values / 100.0, "1 - value / 100 (percent)", True
    return -values, "-value (unbounded larger-is-better metric)", False


# A training series with at least this many times the points of the longest held-out split
# (train-dev, dev, test: evaluations) and at least DENSE_MIN_POINTS is a sample of per-step
# minibatch values, not an evaluation.
DENSE_RATIO = 3
DENSE_MIN_POINTS = 20
# ... and its level is the mean of its raw points over the last evaluation interval, over at
# least this many points.
DENSE_MIN_WINDOW = 5
# An evaluation's level is the mean of its last this many points at or before the reference step.
EVAL_POINTS = 2
# Series that evaluate the whole training set (same footing as the dev evaluation), preferred
# over the per-step training metric when logged; ``{q}`` is the quantity. Lightning's epoch mean
# (``train_loss_epoch``) comes next: a mean over the last epoch's batches.
TRAIN_EVALUATION_NAMES = ("train/eval_{q}", "train/{q}_eval", "train/{q}_epoch")


def train_evaluation(run: Run, q: str) -> Series | None:
    """The training set's error measured like the dev set's, when the run logs one."""
    for pattern in TRAIN_EVALUATION_NAMES:
        s = run.get(pattern.format(q=q))
        if s is not None and np.isfinite(s.values).any():
            return s
    return None


class _Footing:
    """Every split's error at the reference step, on the same footing: an evaluation (few
    points, each measured on a whole fixed set) is read as it is at that step; a per-step
    training series (minibatch values, DENSE_RATIO x an evaluation's points) as the mean of
    its raw points over the last evaluation interval, as an epoch's mean loss is, never as a
    median of them (with small batches the median of the batch losses sits far below their
    mean, and an ordinary dev error would look like a variance gap)."""

    def __init__(
        self, curves: dict[str, Curve], ref: float | None, train_evaluation: bool = False
    ) -> None:
        self.curves = curves
        self.ref = ref
        self.train_evaluation = train_evaluation
        held = [c for split, c in curves.items() if split != "train"]
        longest = max(held, key=len, default=None)
        self.evaluations = len(longest) if longest is not None else 0
        # the start of the last evaluation interval
        self.window_start = (
            float(longest.steps[-2]) if longest is not None and len(longest) >= 2 else None
        )

    def dense(self, split: str, c: Curve) -> bool:
        return (
            split == "train"
            and len(c) >= DENSE_MIN_POINTS
            and len(c) >= DENSE_RATIO * self.evaluations
        )

    def level(self, split: str) -> float | None:
        c = self.curves.get(split)
        if c is None or self.ref is None:
            return None
        if not self.dense(split, c):
            at = c.steps.astype(np.float64)
            if split == "train" and not self.train_evaluation:
                # a per-epoch training metric is already a mean over the last epoch
                return float(np.interp(self.ref, at, c.values))
            # an evaluation: the mean of the last two at or before the reference step, the
            # start and end of the last interval that a training mean covers (and a held-out
            # loss swinging from one evaluation to the next is not read at one extreme)
            before = at <= self.ref
            if int(before.sum()) >= 2:
                return float(np.mean(c.values[before][-EVAL_POINTS:]))
            return float(np.interp(self.ref, at, c.values))
        upto = c.steps <= self.ref
        steps, values = c.steps[upto], c.values[upto]
        if steps.shape[0] == 0:
            return c.at(self.ref)
        if self.window_start is not None:
            window = values[steps > self.window_start]
        else:
            window = values[-smooth_window(int(steps.shape[0])) :]
        if window.shape[0] < DENSE_MIN_WINDOW:
            window = values[-DENSE_MIN_WINDOW:]
        return float(np.mean(window))


def _fmt(x: float | None, frac: bool) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:.2f}%" if frac else f"{x:.4g}"


def error_breakdown(
    run: Run,
    *,
    target_error: float | None = None,
    metric: str | None = None,
    goal: Goal | None = None,
) -> ErrorBreakdown:
    if target_error is not None and not np.isfinite(target_error):
        raise InvalidArgument(f"target_error must be a finite number, got {target_error!r}")
    chosen = choose_metric(run, metric, goal)
    missing: list[str] = []
    if chosen is None:
        missing.append(
            "train and validation series of a loss or accuracy (train/loss, val/loss, "
            "train/acc, val/acc)"
        )
        return ErrorBreakdown(
            run=run.name,
            metric=None,
            error_definition=None,
            fraction_error=False,
            reference_step=None,
            target_error=target_error,
            train_error=None,
            train_dev_error=None,
            dev_error=None,
            test_error=None,
            avoidable_bias=None,
            variance=None,
            mismatch=None,
            dev_test_gap=None,
            verdict="insufficient data",
            missing=missing,
            next_actions=NEXT_ACTIONS["insufficient data"],
            explanation="no loss or accuracy series to compute errors from",
        )
    q, g = chosen
    curves: dict[str, Curve] = {}
    definition, frac = "value", False
    for split in ("train", "train-dev", "val", "test"):
        s = train_evaluation(run, q) if split == "train" else None
        s = s or run.get(f"{split}/{q}")
        if s is None:
            continue
        err, definition, frac = to_error(s.values, g)
        c = Curve.of(Series(s.name, s.original, s.steps, err.astype(np.float64)))
        if len(c):
            curves[split] = c
    if target_error is not None and (target_error < 0 or (frac and target_error >= 1)):
        raise InvalidArgument(
            f"target_error={target_error!r} is not an error "
            + (
                f"rate in [0, 1): errors here are 1 - {q} as fractions, so 2% is 0.02"
                if frac
                else "(it cannot be negative)"
            )
        )
    dev = curves.get("val")
    base = curves.get("train") or dev
    ref = float(base.steps[-1]) if base is not None else None
    best_dev_step = int(dev.steps[int(np.argmin(dev.smooth))]) if dev is not None else None
    best_dev = float(np.min(dev.smooth)) if dev is not None else None
    footing = _Footing(curves, ref, train_evaluation(run, q) is not None)
    tr, td, dv, te = (footing.level(split) for split in ("train", "train-dev", "val", "test"))
    if tr is None:
        missing.append(f"train/{q} (training error)")
    if dv is None:
        missing.append(f"val/{q} (dev / validation error)")
    if target_error is None:
        missing.append(
            "target_error (human-level or baseline error, same units as the error) "
            "for avoidable bias"
        )
    if td is None:
        missing.append(
            f"train-dev/{q} (error on held-out training-distribution data) to "
            "separate data mismatch from variance"
        )
    bias = tr - target_error if tr is not None and target_error is not None else None
    if td is not None and tr is not None:
        variance: float | None = td - tr
    elif dv is not None and tr is not None:
        variance = dv - tr
    else:
        variance = None
    mismatch = dv - td if dv is not None and td is not None else None
    dev_test = te - dv if te is not None and dv is not None else None

    known = [x for x in (dv, td, tr) if x is not None]
    scale = dv if dv is not None else (max(abs(x) for x in known) if known else 0.0)
    need = GAP_RELATIVE * abs(scale)
    if frac:
        need = max(need, GAP_ABSOLUTE)
    if dev is not None and len(dev) >= GAP_NOISE_POINTS:
        # a gap must also stand out of how much the dev error moves between evaluations (a
        # cross-entropy near a separable problem's floor swings with a few confident misses)
        need = max(need, GAP_NOISE_Z * step_noise(dev.values[-GAP_NOISE_POINTS:]))
    gaps = {"avoidable_bias": bias, "variance": variance, "mismatch": mismatch}
    significant = [k for k, v in gaps.items() if v is not None and v > 0 and v >= need]
    verdict: Verdict
    if significant:
        top = max(significant, key=lambda k: gaps[k] or 0.0)
        verdict = _GAP_VERDICT[top]
    elif bias is None or variance is None:
        verdict = "insufficient data"
    else:
        verdict = "balanced"
    parts = [
        f"errors ({definition} of {q}) at step {int(ref) if ref is not None else 'n/a'}: "
        f"target {_fmt(target_error, frac)}, train {_fmt(tr, frac)}, "
        f"train-dev {_fmt(td, frac)}, dev {_fmt(dv, frac)}, test {_fmt(te, frac)}",
        f"avoidable bias {_fmt(bias, frac)}, variance {_fmt(variance, frac)}"
        + (" (dev - train: includes any data mismatch)" if td is None else "")
        + f", mismatch {_fmt(mismatch, frac)}",
        f"a gap counts from {_fmt(need, frac)}",
    ]
    if verdict in ("high variance", "data mismatch") and bias is None:
        parts.append("avoidable bias was not assessed (no target_error); it may be larger")
    if dev_test is not None and dev_test >= need and dev_test > 0:
        parts.append(
            f"test is worse than dev by {_fmt(dev_test, frac)}: the dev set may be "
            "overfit by model selection; get a bigger dev set"
        )
    return ErrorBreakdown(
        run=run.name,
        metric=q,
        error_definition=definition,
        fraction_error=frac,
        reference_step=int(ref) if ref is not None else None,
        best_dev_step=best_dev_step,
        best_dev_error=best_dev,
        target_error=target_error,
        train_error=tr,
        train_dev_error=td,
        dev_error=dv,
        test_error=te,
        avoidable_bias=bias,
        variance=variance,
        mismatch=mismatch,
        dev_test_gap=dev_test,
        significant=significant,
        verdict=verdict,
        missing=missing,
        next_actions=NEXT_ACTIONS[verdict],
        explanation="; ".join(parts) + ".",
    )


@reports("curve.high-bias", "curve.high-variance", "curve.data-mismatch")
def breakdown_findings(b: ErrorBreakdown) -> list[Finding]:
    """curve.high-bias / curve.high-variance / curve.data-mismatch for every gap that counts."""
    out: list[Finding] = []
    frac = b.fraction_error
    values = {"avoidable_bias": b.avoidable_bias, "variance": b.variance, "mismatch": b.mismatch}
    for key in b.significant:
        verdict = _GAP_VERDICT[key]
        gap = values[key]
        assert gap is not None
        detail = {
            "run": b.run,
            "metric": b.metric,
            "rule": f"{key} >= gap threshold",
            "error_definition": b.error_definition,
            "reference_step": b.reference_step,
            "target_error": b.target_error,
            "train_error": b.train_error,
            "train_dev_error": b.train_dev_error,
            "dev_error": b.dev_error,
            "test_error": b.test_error,
            key: gap,
            "dominant": verdict == b.verdict,
            "threshold": {
                "relative_to_dev_error": GAP_RELATIVE,
                "absolute_for_fractions": GAP_ABSOLUTE,
            },
        }
        msg = {
            "avoidable_bias": f"training error {_fmt(b.train_error, frac)} is "
            f"{_fmt(gap, frac)} above the target {_fmt(b.target_error, frac)}",
            "variance": f"{'train-dev' if b.train_dev_error is not None else 'dev'} error "
            f"{_fmt(b.train_dev_error if b.train_dev_error is not None else b.dev_error, frac)}"
            f" is {_fmt(gap, frac)} above training error {_fmt(b.train_error, frac)}",
            "mismatch": f"dev error {_fmt(b.dev_error, frac)} is {_fmt(gap, frac)} above "
            f"train-dev error {_fmt(b.train_dev_error, frac)}",
        }[key]
        out.append(
            finding(
                _VERDICT_FINDING[verdict],
                f"{verdict} in run {b.run!r}: {msg} (at step {b.reference_step}"
                f"{', the dominant gap' if verdict == b.verdict else ''}). Next: "
                + " ".join(NEXT_ACTIONS[verdict][:2]),
                how="curve",
                step=b.reference_step
                if b.reference_step is not None and b.reference_step >= 0
                else None,
                detail=detail,  # type: ignore[arg-type]
            )
        )
    return out


__all__ = [
    "GAP_ABSOLUTE",
    "GAP_RELATIVE",
    "NEXT_ACTIONS",
    "ErrorBreakdown",
    "Verdict",
    "breakdown_findings",
    "choose_metric",
    "error_breakdown",
    "to_error",
]
