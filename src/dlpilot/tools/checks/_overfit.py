"""The single-batch overfit verdict (seed 004, section 1) and its plot: calculation, then drawing.

One verdict for both ways in: :func:`judge_curve` judges a per-step curve, whether it came from a
script's overfit-mode run (first batch replayed, dropout, weight decay, label smoothing and
schedulers off; :func:`verdict`) or from the entry-point child (one fixed batch through the
``[tool.dlpilot]`` factories, dropout modules in eval mode, weight decay 0). The verdict:

* ``passed``: the lowest loss of the final window is at most :data:`LOSS_REL` of the first step's
  loss (or below :data:`LOSS_ABS`): the loss went to ~0 (a causal language model passes so
  although some prefixes have several continuations and its token accuracy stays under 99%); or,
  for classification, the batch accuracy in that window reaches :data:`ACCURACY_PASS` with the
  loss at most :data:`FIT_MOSTLY_REL` of its start.
* ``failed``: the run made at least :data:`MIN_STEPS` steps, did not pass, its loss stayed
  above :data:`FIT_MOSTLY_REL` of the first, and it has stopped falling: flat, creeping (less
  than :data:`TREND_DROP` a half-run), or levelling off toward a floor far above ~0
  (:func:`fit_trend`). The model cannot fit one batch. A loss still falling steadily is given no
  failure, whatever one window ratio says: the result says how many steps its trend needs.
* ``inconclusive``: too few steps, no loss seen, the batch could not be held fixed, the script
  stopped before the step budget while the loss was still falling (:data:`CUT_SHORT_FALLING`),
  the loss came most of the way down (below :data:`FIT_MOSTLY_REL`) but not to ~0 (a budget too
  short, a KL term or sampling noise), the batch is fitted (accuracy) while the loss levels off
  above :data:`FIT_MOSTLY_REL` (a contrastive temperature; or probabilities fed to cross-entropy,
  which ``loss.softmax-before-ce`` reports), or several optimizers train separate parts of the
  model (a GAN: no single loss is meant to reach 0).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from dlpilot.findings import finding
from dlpilot.sandbox.probe import DEFAULT_OVERFIT_STEPS
from dlpilot.tools._contract import reports

from ._evidence import ProbeRun, num
from ._models import ChildRun, OverfitResult

LOSS_REL = 0.05
"""Loss "~0", relative: the final loss is at most 5% of the first. Scale-free, so it works for an
MSE on unnormalized targets as well as for cross-entropy (ln 10 = 2.3 -> 0.115)."""

LOSS_ABS = 1e-3
"""Loss "~0", absolute: below this the loss counts as zero whatever it started at."""

FIT_MOSTLY_REL = 0.25
"""A loss that fell to a quarter of its start fitted most of the batch: short of ~0 it gets no
failure (a model that cannot fit keeps its loss near the start: near ln C for a classifier, near
the target variance for a regression)."""

ACCURACY_PASS = 0.99
"""Accuracy "~100%": every sample of a batch of up to 99 is right."""

FINAL_WINDOW_SHARE = 0.1
"""The final window is the last 10% of steps (at least :data:`FINAL_WINDOW_MIN` steps); its
best point is judged, so an optimizer's last-step wobble does not fail a fitted batch."""

FINAL_WINDOW_MIN = 5

MIN_STEPS = 50
"""Fewer steps than this (the script ended first) give no verdict unless the loss already passed."""

MIN_BUDGET_SHARE = 0.5
"""A run that ended (the script stopped, or the time ran out) before this share of the step budget
gets no failure: its curve is too short to tell a model that cannot fit from a slow start (an
LSTM language model at lr 20 sits within 10% of its start for its first ~100 steps, then falls
to ~0)."""

STILL_FALLING = 0.8
"""The curve is still falling when the final window's mean is below this share of the mean of
the window before it: more steps would likely help."""

TREND_MIN_POINTS = 20
"""Fewest finite losses in the second half of the run to fit a trend to."""

TREND_T = 3.0
"""A decline counts as real when the fitted slope is this many standard errors below zero."""

TREND_DROP = 0.10
"""...and when the fitted trend would take at least a tenth more off the loss over another span
as long as the one fitted (half the run): a steady fall, not a creep or a last-digit wobble. A
loss falling like this is never called a failure: the budget ran out, not the model (an LSTM at
40% of its start after 200 steps reaches ~0 after 550)."""

CUT_SHORT_FALLING = 0.95
"""A run that ended before the step budget (the script itself stopped) gets no failure while its
final window's mean is still below this share of the window before it (5% a window), or while the
fitted trend of its second half still declines (slope :data:`TREND_T` standard errors below zero,
however slowly): the loss was still going down when the script stopped, so the budget, not the
model, ran out. The test did not get its steps, so only a loss that stopped falling fails it."""


@reports("overfit.single-batch-failed")
def judge_curve(
    losses: list[float | None],
    accuracies: list[float | None] | None = None,
    *,
    budget: int,
    batch_fixed: bool = True,
) -> OverfitResult:
    """Judge one overfit curve: the verdict of both modes (script and entry points).

    ``losses`` holds the loss of each step run, ``None`` where the step had no loss and a
    non-finite float where it diverged; ``accuracies`` the batch accuracy per step (``None`` or
    an all-``None`` list: not classification). ``budget`` is the step budget asked for;
    ``batch_fixed`` says whether the same batch was really replayed (a failure on a batch that
    was not held fixed is inconclusive). The finding is built here, so both modes report it alike.
    The result's ``losses`` carry None for non-finite values (strict JSON has no NaN).
    """
    accs = list(accuracies) if accuracies is not None else [None] * len(losses)
    classification = any(a is not None for a in accs)
    steps = len(losses)
    finite = [v for v in losses if v is not None and math.isfinite(v)]
    base = OverfitResult(
        verdict="inconclusive",
        reason="",
        steps=steps,
        step_budget=budget,
        classification=classification,
        losses=[v if v is not None and math.isfinite(v) else None for v in losses],
        accuracies=accs if classification else [],
    )
    if not finite:
        seen = any(v is not None for v in losses)
        reason = "the loss was never finite" if seen else "no training loss was observed"
        return base.model_copy(update={"reason": reason})
    initial = finite[0]
    window = max(FINAL_WINDOW_MIN, math.ceil(FINAL_WINDOW_SHARE * steps))
    tail = [v for v in losses[-window:] if v is not None]
    final = min((v for v in tail if math.isfinite(v)), default=math.inf)
    threshold = max(LOSS_REL * abs(initial), LOSS_ABS)
    acc_tail = [a for a in accs[-window:] if a is not None]
    final_acc = max(acc_tail) if acc_tail else None
    prev = [v for v in losses[-2 * window : -window] if v is not None and math.isfinite(v)]
    falling = (
        bool(prev)
        and bool(tail)
        and all(math.isfinite(v) for v in tail)
        and (sum(tail) / len(tail) < STILL_FALLING * (sum(prev) / len(prev)))
    )
    threshold = max(LOSS_REL * abs(initial), LOSS_ABS)
    trend = fit_trend(losses, threshold)
    falling = falling or trend.falling
    loss_ok = final <= threshold
    acc_ok = classification and final_acc is not None and final_acc >= ACCURACY_PASS
    result = base.model_copy(
        update={
            "initial_loss": initial,
            "final_loss": final if math.isfinite(final) else None,
            "loss_threshold": threshold,
            "final_accuracy": final_acc,
            "accuracy_threshold": ACCURACY_PASS if classification else None,
            "still_falling": falling,
        }
    )
    mostly = final <= FIT_MOSTLY_REL * abs(initial)
    if loss_ok or (acc_ok and mostly):
        acc = f", accuracy {final_acc:.0%}" if final_acc is not None else ""
        reason = f"loss {initial:.3g} -> {final:.3g} in {steps} steps{acc}"
        return result.model_copy(update={"verdict": "passed", "reason": reason})
    if acc_ok:
        return result.model_copy(
            update={
                "reason": f"the batch is fitted (accuracy {final_acc:.0%}) but the loss levels "
                f"off at {final:.3g}, {final / initial:.0%} of its start: a floor above 0, as a "
                "contrastive temperature gives, or probabilities fed to a loss that wants logits"
            }
        )
    if not batch_fixed:
        return result.model_copy(
            update={
                "reason": "the batch could not be held fixed (no training DataLoader and no "
                "positional model input to replay)"
            }
        )
    if steps < MIN_STEPS:
        return result.model_copy(
            update={
                "reason": f"the run ended after {steps} steps, fewer than the {MIN_STEPS} a "
                "verdict needs"
            }
        )
    if steps < MIN_BUDGET_SHARE * budget:
        return result.model_copy(
            update={
                "reason": f"the run ended after {steps} of the {budget} steps the test asks for, "
                f"fewer than {MIN_BUDGET_SHARE:.0%} of them: too few to tell a slow start from a "
                f"model that cannot fit ({initial:.3g} -> {final:.3g}); give the check more time "
                "(--timeout) or run the script longer for a verdict"
            }
        )
    if steps < budget and (_window_ratio(losses, window) < CUT_SHORT_FALLING or trend.declining):
        return result.model_copy(
            update={
                "still_falling": True,
                "reason": f"the run ended after {steps} of the {budget} steps the test asks for, "
                f"with the loss still falling ({initial:.3g} -> {final:.3g}); run the script "
                "longer (more epochs or steps) for a verdict",
            }
        )
    acc_text = (
        f", batch accuracy {final_acc:.1%} (passes at {ACCURACY_PASS:.0%})"
        if final_acc is not None
        else ""
    )
    if mostly:
        return result.model_copy(
            update={
                "reason": f"the loss came most of the way down ({initial:.3g} -> {final:.3g}, "
                f"{final / initial:.1%} of its start{acc_text}) but not to ~0 (<= "
                f"{threshold:.3g}) in {steps} steps"
                + (
                    "; it was still falling: more steps (--overfit-steps) may pass"
                    if _window_ratio(losses, window) < CUT_SHORT_FALLING
                    else "; a floor like this comes from a KL term, sampling noise or a model "
                    "too small to memorize the batch"
                )
            }
        )
    if trend.falling and (trend.floor is None or trend.floor <= FIT_MOSTLY_REL * abs(initial)):
        floor = f", toward a fitted floor near {trend.floor:.3g}" if trend.floor is not None else ""
        reach = f", ~0 near step {trend.reaches}" if trend.reaches is not None else ""
        return result.model_copy(
            update={
                "reason": f"after {steps} steps the loss ({initial:.3g} -> {final:.3g}, "
                f"{final / initial:.0%} of its start{acc_text}) was still falling steadily "
                f"({trend.drop:.0%} more over another {trend.span} steps by its fitted "
                f"trend{floor}{reach}): the budget ran out, not the model; run with "
                f"--overfit-steps {_round_up(trend.reaches or 3 * steps)} for a verdict"
            }
        )
    reason = (
        f"after {steps} steps on one fixed batch the loss only fell from {initial:.3g} to "
        f"{final:.3g} ({final / initial:.0%} of its start; ~0 is <= {threshold:.3g}){acc_text}"
    )
    if trend.falling and trend.floor is not None:
        reason += (
            f"; it is still falling, but toward a floor near {trend.floor:.3g} "
            f"({trend.floor / initial:.0%} of its start), far above ~0"
        )
    found = finding(
        "overfit.single-batch-failed",
        f"The model cannot overfit a single batch: {reason}. Model wiring, loss, labels or "
        "optimizer settings are likely wrong.",
        how="runtime",
        step=steps,
        detail={
            "initial_loss": initial,
            "final_loss": final if math.isfinite(final) else None,
            "loss_threshold": threshold,
            "fit_mostly_threshold": FIT_MOSTLY_REL * abs(initial),
            "final_accuracy": final_acc,
            "steps": steps,
            "still_falling": falling,
            "fitted_floor": trend.floor,
            "curve": [
                round(v, 6) if v is not None and math.isfinite(v) else None
                for v in _thin(losses, 50)
            ],
        },
    )
    return result.model_copy(update={"verdict": "failed", "reason": reason, "finding": found})


@dataclass(frozen=True)
class Trend:
    """The fitted trend of a loss curve's second half: whether it is still falling for real,
    how much more it would fall over another ``span`` steps, and the floor it is heading to
    (``None`` when the curve shows no floor yet: a straight or accelerating fall)."""

    falling: bool
    drop: float
    span: int
    floor: float | None
    reaches: int | None = None
    """The step at which the log-linear trend reaches the target loss (None: never)."""
    declining: bool = False
    """The fitted slope is really below zero (:data:`TREND_T` standard errors), steady or not."""


def _round_up(step: int) -> int:
    return int(math.ceil(step * 1.2 / 100.0) * 100)


def fit_trend(losses: list[float | None], target: float | None = None) -> Trend:
    """Fit the second half of ``losses``: a least-squares line for the slope and its standard
    error (is the fall real, is it steady), and ``a + b * exp(-t / tau)`` over a grid of time
    constants for the floor ``a`` it approaches. A floor is reported only for a decelerating
    curve whose time constant the data pins down (not the grid's longest)."""
    n = len(losses)
    pts = [
        (i, v)
        for i, v in enumerate(losses[n // 2 :], start=n // 2)
        if v is not None and math.isfinite(v)
    ]
    none = Trend(falling=False, drop=0.0, span=0, floor=None)
    if len(pts) < TREND_MIN_POINTS:
        return none
    t0 = pts[0][0]
    ts = [float(i - t0) for i, _ in pts]
    ys = [v for _, v in pts]
    span = int(ts[-1]) + 1
    slope, intercept, se = _line(ts, ys)
    end = intercept + slope * ts[-1]
    drop = -slope * span / abs(end) if end > 0 else 0.0
    falling = slope < 0 and se >= 0 and slope < -TREND_T * se and drop >= TREND_DROP
    taus = [2.0 * (1.25**k) for k in range(40)]
    taus = [tau for tau in taus if tau <= 20.0 * span] or [20.0 * span]
    best: tuple[float, float, float, float] | None = None  # sse, a, b, tau
    for tau in taus:
        es = [math.exp(-t / tau) for t in ts]
        b, a, _ = _line(es, ys)
        sse = sum((y - a - b * e) ** 2 for y, e in zip(ys, es, strict=True))
        if best is None or sse < best[0]:
            best = (sse, a, b, tau)
    floor = None
    if best is not None and best[2] > 0 and best[3] < taus[-1]:
        floor = best[1]
    if falling and floor is not None:
        # the fall left by the fitted curve over another span (the line overstates a slowdown)
        _, a, b, tau = best  # type: ignore[misc]
        now = a + b * math.exp(-ts[-1] / tau)
        later = a + b * math.exp(-(ts[-1] + span) / tau)
        drop = (now - later) / abs(now) if now > 0 else drop
        falling = drop >= TREND_DROP
    reaches = None
    positive = [(t, math.log(y)) for t, y in zip(ts, ys, strict=True) if y > 0]
    if target is not None and target > 0 and len(positive) >= TREND_MIN_POINTS:
        lslope, lintercept, _ = _line([t for t, _ in positive], [v for _, v in positive])
        log_end = lintercept + lslope * ts[-1]
        if lslope < 0:
            reaches = t0 + int(ts[-1] + max(log_end - math.log(target), 0.0) / -lslope) + 1
    declining = slope < 0 and se >= 0 and slope < -TREND_T * se
    return Trend(
        falling=falling,
        drop=max(drop, 0.0),
        span=span,
        floor=floor,
        reaches=reaches,
        declining=declining,
    )


def _line(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least-squares ``y = slope * x + intercept`` and the slope's standard error."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return 0.0, my, -1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    resid = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    se = math.sqrt(resid / max(n - 2, 1) / sxx)
    return slope, intercept, se


def _window_ratio(losses: list[float | None], window: int) -> float:
    """Mean of the final window over the mean of the window before it (inf when unknown)."""
    tail = [v for v in losses[-window:] if v is not None and math.isfinite(v)]
    prev = [v for v in losses[-2 * window : -window] if v is not None and math.isfinite(v)]
    if not tail or not prev or sum(prev) <= 0:
        return math.inf
    return (sum(tail) / len(tail)) / (sum(prev) / len(prev))


def verdict(run: ProbeRun, budget: int, child: ChildRun | None = None) -> OverfitResult:
    """Judge an overfit-mode run of a script: its per-step curve through :func:`judge_curve`."""
    losses: list[float | None] = [num(s.get("loss")) for s in run.steps]
    accs: list[float | None] = [num(s.get("acc")) for s in run.steps]
    replayed = int(run.summary.get("overfit", {}).get("replayed", 0)) if run.summary else 0
    fixed = replayed > 0 or any(ld.get("kind") == "train" for ld in run.summary.get("loaders", []))
    result = judge_curve(losses, accs, budget=budget, batch_fixed=fixed)
    update: dict[str, object] = {"run": child}
    stepping = [o for o in run.summary.get("optimizers", []) if int(o.get("steps") or 0) > 0]
    if len(stepping) > 1 and result.verdict == "failed":
        kinds = ", ".join(str(o.get("type")) for o in stepping)
        update.update(
            verdict="inconclusive",
            finding=None,
            reason=f"{len(stepping)} optimizers ({kinds}) train separate parts of the model, as "
            "in a GAN: no single loss is meant to reach 0, so a single-batch fit has no verdict "
            f"({result.reason})",
        )
    no_loss = all(v is None for v in losses)
    if no_loss and child is not None and child.stopped_by == "exception":
        update["reason"] = result.reason + " (the script raised an exception before its first step)"
    elif result.verdict == "inconclusive" and child is not None and child.stopped_by == "exception":
        # the replayed batch can clash with what the script computes itself (targets sliced
        # from its own tensors, a last partial batch): say so instead of "too few steps"
        update["reason"] = (
            f"{result.reason}: the script raised an exception under the replayed batch "
            f"({child.summary}); the test feeds the first batch's model inputs again, so "
            "targets the script builds itself must keep that batch's size (e.g. drop_last=True)"
        )
    return result.model_copy(update=update)


def _thin(values: list[float | None], n: int) -> list[float | None]:
    if len(values) <= n:
        return values
    step = len(values) / n
    return [values[int(i * step)] for i in range(n)] + [values[-1]]


@dataclass
class OverfitPlot:
    """What the overfit plot draws (tests check this, not pixels)."""

    steps: list[int]
    losses: list[float]
    accuracy_steps: list[int]
    accuracies: list[float]
    threshold: float | None
    title: str
    log_scale: bool


def plot_data(result: OverfitResult) -> OverfitPlot:
    pts = [(i + 1, v) for i, v in enumerate(result.losses) if v is not None and math.isfinite(v)]
    acc = [(i + 1, a) for i, a in enumerate(result.accuracies) if a is not None]
    positive = all(v > 0 for _, v in pts)
    return OverfitPlot(
        steps=[s for s, _ in pts],
        losses=[v for _, v in pts],
        accuracy_steps=[s for s, _ in acc],
        accuracies=[a for _, a in acc],
        threshold=result.loss_threshold,
        title=f"Single-batch overfit test: {result.verdict}",
        log_scale=bool(pts) and positive,
    )


def plot_overfit(result: OverfitResult) -> bytes:
    """The loss (and accuracy) curve of an overfit test as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = plot_data(result)
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    # Okabe-Ito colours, as in the curve plots: readable with any colour vision
    ax.plot(data.steps, data.losses, color="#0072B2", label="loss")
    if data.threshold is not None:
        ax.axhline(data.threshold, color="#009E73", linestyle="--", label="loss pass threshold")
    if data.log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(data.title)
    handles, labels = ax.get_legend_handles_labels()
    if data.accuracies:
        ax2 = ax.twinx()
        ax2.plot(
            data.accuracy_steps, data.accuracies, color="#E69F00", linestyle="-.", label="accuracy"
        )
        ax2.set_ylim(0.0, 1.05)
        ax2.set_ylabel("batch accuracy")
        more_handles, more_labels = ax2.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, loc="center right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


__all__ = [
    "ACCURACY_PASS",
    "DEFAULT_OVERFIT_STEPS",
    "LOSS_ABS",
    "LOSS_REL",
    "MIN_STEPS",
    "OverfitPlot",
    "judge_curve",
    "plot_data",
    "plot_overfit",
    "verdict",
]
