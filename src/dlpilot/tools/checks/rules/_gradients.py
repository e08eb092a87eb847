"""Gradient, parameter and learning-rate rules: gradient flow and norms, parameters that never
change or go non-finite, the update / weight ratio (catalogue sections ``grad``, ``param``,
``lr``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import pairwise
from typing import Any, cast

from pydantic import JsonValue

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get, num
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence, median

MIN_STEPS_FOR_FLOW = 3
"""Optimizer steps (sampled) before a parameter that never got a gradient is called no-flow."""

EXPLODING_RATIO = 70.0
"""checks.md: first-layer / last-layer gradient norm ratio above which gradients explode."""

EXPLODING_GROWTH = 2.0
"""checks.md: gradient-norm growth per window that, sustained over every window, is explosive."""

GROWTH_WINDOW = 5
"""Sampled points per window for the growth test; at least three windows are needed."""

VANISHING_RATIO = 1e-3
"""checks.md: first/last layer gradient norm ratio below which gradients vanish ..."""

VANISHING_FIRST_NORM = 1e-4
"""... when the first layer's gradient norm is also below this (checks.md)."""

LR_HIGH_LOG10 = -1.0
"""checks.md: median log10(update norm / weight norm) above this is too large."""

LR_LOW_LOG10 = -4.0
"""checks.md: log10 update/weight ratio below this is too small. Judged on the largest sampled
ratio, so a warmup that starts tiny is not mistaken for a too-low learning rate."""

LR_SKIP_FIRST_STEPS = 3
"""Adaptive optimizers take near-lr-sized steps at first; ratios of the first steps are skipped
for the too-high test."""

LR_MIN_RATIO_STEPS = 5
"""Sampled optimizer steps (after the skipped first ones) the update/weight ratio needs before it
is judged: over two steps of a gradient-accumulation script (four backward passes each), with
momentum still building up, the ratio says little."""

LR_STEADY_FALL = 0.9
"""The loss falls steadily when the median of the last third of the optimizer steps is below
this share of the start (the lowest of the first three steps), the thirds' medians never rise,
and no step's loss rose above :data:`LR_STEADY_MAX_RISE` times the start: then a large
update/weight ratio is a model early in training taking big, useful steps, not a learning rate
that is too high."""

LR_STEADY_MAX_RISE = 1.5
"""See :data:`LR_STEADY_FALL`: a step loss above this multiple of the start is a jump."""

LR_BLOWUP_FACTOR = 3.0
"""Loss blow-up within the first steps: median loss of steps 5-20 above this times the median of
the first three steps (a loss that explodes at the start means the learning rate is too high)."""


LINE_SEARCH_OPTIMIZERS = frozenset({"LBFGS"})
"""Optimizers whose step length comes from curvature and a line search, not from the learning
rate alone: a large update per step is what they are for (LBFGS's default rate is 1)."""


def _line_search_only(run: ProbeRun) -> bool:
    types = {str(o.get("type")) for o in get(run.summary, "optimizers", default=[])}
    return bool(types) and types <= LINE_SEARCH_OPTIMIZERS


def _falls_steadily(run: ProbeRun) -> bool:
    """Whether the training loss per optimizer step falls steadily (see :data:`LR_STEADY_FALL`)."""
    losses = [num(s.get("loss")) for s in run.steps]
    vals = [v for v in losses if v is not None and math.isfinite(v)]
    if len(vals) < 6 or len(vals) < len(losses):
        return False
    third = len(vals) // 3
    head = min(vals[:3])  # the start, before any jump
    m1, m2, m3 = median(vals[:third]), median(vals[third:-third]), median(vals[-third:])
    return (
        head > 0
        and m1 >= m2 >= m3
        and m3 < LR_STEADY_FALL * head
        and max(vals) <= LR_STEADY_MAX_RISE * head
    )


class GradChecks(RuntimeCheck):
    ids = (
        "grad.no-flow",
        "grad.not-in-optimizer",
        "grad.nonfinite",
        "grad.exploding",
        "grad.vanishing",
        "param.unchanged",
        "param.nonfinite",
        "lr.too-high",
        "lr.too-low",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        g = get(run.summary, "grads", default={})
        sampled = int(get(g, "sampled_steps", default=0))
        no_flow = get(g, "no_flow", default=[])
        if sampled >= MIN_STEPS_FOR_FLOW and no_flow:
            count = int(get(g, "no_flow_count", default=len(no_flow)))
            yield evidence(
                ctx,
                run,
                "grad.no-flow",
                f"{count} trainable parameter(s) never received a non-zero gradient in "
                f"{sampled} sampled steps: {', '.join(no_flow[:6])}"
                + (" ..." if count > 6 else "")
                + ". They are unused, detached from the loss, or cut off by a dead path; freeze "
                "them explicitly (requires_grad_(False)) if that is intended.",
                detail={"parameters": no_flow, "count": count, "sampled_steps": sampled},
            )
        outside = get(g, "not_in_optimizer", default=[])
        if outside and (get(run.summary, "optimizers", default=[]) or run.optimizers):
            count = int(get(g, "not_in_optimizer_count", default=len(outside)))
            yield evidence(
                ctx,
                run,
                "grad.not-in-optimizer",
                f"{count} parameter(s) receive gradients but are in no optimizer parameter group, "
                f"so they never train: {', '.join(outside[:6])}"
                + (" ..." if count > 6 else "")
                + ".",
                detail={"parameters": outside, "count": count},
            )
        if get(g, "nonfinite_step") is not None:
            names = get(g, "nonfinite_names", default=[])
            yield evidence(
                ctx,
                run,
                "grad.nonfinite",
                f"Gradients became NaN / Inf at step {get(g, 'nonfinite_step')} "
                f"({', '.join(names[:4])}).",
                step=get(g, "nonfinite_step"),
                detail={"parameters": names},
            )
        yield from self._norms(run, ctx, g)
        yield from self._params(run, ctx)
        yield from self._lr(run, ctx)

    def _norms(self, run: ProbeRun, ctx: Context, g: dict[str, Any]) -> Iterable[Finding]:
        series = [s for s in get(g, "series", default=[]) if isinstance(s, list) and len(s) == 4]
        pairs = [
            (float(s[2]), float(s[3]))
            for s in series
            if num(s[2]) is not None
            and num(s[3]) is not None
            and math.isfinite(float(s[2]))
            and math.isfinite(float(s[3]))
            and float(s[3]) > 0
        ]
        first_name, last_name = get(g, "first_layer"), get(g, "last_layer")
        detail: dict[str, JsonValue] = {"first_layer": first_name, "last_layer": last_name}
        if pairs and first_name != last_name:
            ratio = median([a / b for a, b in pairs])
            first_norm = median([a for a, _ in pairs])
            detail.update(
                {
                    "median_first_last_ratio": ratio,
                    "median_first_norm": first_norm,
                    "sampled_steps": len(pairs),
                }
            )
            if ratio > EXPLODING_RATIO:
                yield evidence(
                    ctx,
                    run,
                    "grad.exploding",
                    f"The first layer's gradient norm is {ratio:.3g}x the last layer's "
                    f"(> {EXPLODING_RATIO:g}): gradients grow on the way back.",
                    detail=detail,
                )
                return
            if ratio < VANISHING_RATIO and first_norm < VANISHING_FIRST_NORM:
                yield evidence(
                    ctx,
                    run,
                    "grad.vanishing",
                    f"The first layer's gradient norm is {ratio:.2g}x the last layer's and "
                    f"{first_norm:.2g} in absolute terms: gradients vanish before they "
                    "reach the early layers.",
                    detail=detail,
                )
                return
        totals: list[float] = []
        for s in series:  # the finite prefix: after the first NaN / Inf, grad.nonfinite speaks
            value = num(s[1])
            if value is None or not math.isfinite(value):
                break
            totals.append(value)
        windows = [totals[i : i + GROWTH_WINDOW] for i in range(0, len(totals), GROWTH_WINDOW)]
        windows = [w for w in windows if len(w) == GROWTH_WINDOW]
        if len(windows) >= 3:
            meds = [median(w) for w in windows]
            if all(b > EXPLODING_GROWTH * a > 0 for a, b in pairwise(meds)):
                yield evidence(
                    ctx,
                    run,
                    "grad.exploding",
                    f"The gradient norm more than doubles every {GROWTH_WINDOW} sampled "
                    f"steps ({' -> '.join(f'{m:.3g}' for m in meds)}).",
                    detail={"window_medians": cast(JsonValue, meds)},
                )

    def _params(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        for o in get(run.summary, "optimizers", default=[]):
            steps = int(o.get("steps", 0))
            change = num(o.get("max_change"))
            if steps >= 2 and change is not None and change == 0.0:
                yield evidence(
                    ctx,
                    run,
                    "param.unchanged",
                    f"{o.get('type')} ran {steps} steps but no parameter changed (learning rate "
                    f"{o.get('lr')}): the learning rate is zero or the gradients are all zero.",
                    step=steps,
                    detail={"optimizer": o.get("type"), "steps": steps, "lr": o.get("lr")},
                )
        p = get(run.summary, "params", default={})
        if get(p, "nonfinite_step") is not None:
            names = get(p, "nonfinite_names", default=[])
            yield evidence(
                ctx,
                run,
                "param.nonfinite",
                f"Weights became NaN / Inf by step {get(p, 'nonfinite_step')} "
                f"({', '.join(names[:4])}).",
                step=get(p, "nonfinite_step"),
                detail={"parameters": names},
            )

    def _lr(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        ratio = get(run.summary, "params", "ratio", default=[])
        logs = [
            (int(r[0]), float(r[1]))
            for r in ratio
            if isinstance(r, list) and len(r) >= 2 and num(r[1]) is not None
        ]
        late = [v for s, v in logs if s >= LR_SKIP_FIRST_STEPS]
        detail: dict[str, JsonValue] = {"sampled_steps": len(logs)}
        if len(late) >= LR_MIN_RATIO_STEPS:
            med = median(late)
            detail["median_log10_update_ratio"] = med
            if med > LR_HIGH_LOG10 and not _falls_steadily(run) and not _line_search_only(run):
                yield evidence(
                    ctx,
                    run,
                    "lr.too-high",
                    f"Each step changes the weights by 10^{med:.2f} of their norm (median; "
                    f"> 10^{LR_HIGH_LOG10:g}): the learning rate is too high.",
                    detail=detail,
                )
                return
        if len(logs) >= 3:
            best = max(v for _, v in logs)
            if best < LR_LOW_LOG10:
                detail["max_log10_update_ratio"] = best
                yield evidence(
                    ctx,
                    run,
                    "lr.too-low",
                    f"Even the largest step changes the weights by only 10^{best:.2f} of "
                    f"their norm (< 10^{LR_LOW_LOG10:g}): the learning rate is too low.",
                    detail=detail,
                )
                return
        losses = [(int(s.get("n", 0)), num(s.get("loss"))) for s in run.steps[:20]]
        vals = [v for _, v in losses if v is not None and math.isfinite(v)]
        if len(vals) >= 10:
            early, later = median(vals[:3]), median(vals[5:20])
            if early > 0 and later > LR_BLOWUP_FACTOR * early:
                yield evidence(
                    ctx,
                    run,
                    "lr.too-high",
                    f"The loss blew up within the first steps (median {early:.3g} -> "
                    f"{later:.3g}): the learning rate is too high.",
                    detail={"early_median": early, "later_median": later},
                )
