"""Curve rules on where the best point lies: ``curve.saturated`` (trained too long) and
``curve.still-improving`` (train longer)."""

from __future__ import annotations

import numpy as np

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    Goal,
    infer_goal,
    position,
    split_name,
)
from dlpilot.tools.curves.rules._common import (
    Curve,
    as_error,
    ev_step,
    rnd,
    rule_detail,
)

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
    e = as_error(c, goal)
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
    detail = rule_detail(
        run,
        s,
        "position of the best point in training",
        goal=g,
        best_position=rnd(pos, 4),
        best_step=step,
        best_smoothed=rnd(best),
        tolerance=rnd(tol),
        raw_best_step=int(c.steps[raw_i]),
        raw_best_value=rnd(float(c.values[raw_i])),
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
                step=ev_step(step),
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
                step=ev_step(step),
                detail=detail,
            )
        ]
    return []
