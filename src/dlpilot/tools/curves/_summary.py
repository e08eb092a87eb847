"""Per-run summaries, side-by-side comparison and a downsampled view of runs.

These are the small typed results that tools hand to people and agents instead of every point:
what metrics a run has, where each one was best, where in training that was (the tuning
playbook's reading: best in the first 10% of training = too many steps, in the last 25% = train
longer), how noisy the end of training is, and a bounded number of points per series.
"""

from __future__ import annotations

import math

import numpy as np

from dlpilot.errors import InvalidArgument
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._results import (
    MetricSummary,
    RunComparison,
    RunRank,
    RunSummary,
    RunsView,
    RunView,
    SeriesView,
)
from dlpilot.tools.curves._signal import (
    Goal,
    finite,
    infer_goal,
    minmax_indices,
    position,
)

# The last quarter of the points counts as "late training" for the variance figure; the same
# fraction as the playbook's "best point in the last 25% of steps".
LATE_FRACTION = 0.25
# Default and bounds of ``summarize_runs(points=...)``: enough for the shape of a curve, small
# enough to put in a prompt.
DEFAULT_VIEW_POINTS = 200
MIN_VIEW_POINTS = 4
MAX_VIEW_POINTS = 100_000
# Preference order of splits when a bare quantity ("loss") is asked for.
_SPLIT_ORDER = ("val", "test", "train-dev", "train")


def summarize_series(s: Series, goal: Goal | None = None) -> MetricSummary:
    goal = goal or infer_goal(s.name)
    steps, values = s.steps, s.values
    bad = ~np.isfinite(values)
    fs, fv = finite(steps, values)
    first_nonfinite = int(steps[int(np.argmax(bad))]) if bad.any() else None
    out = MetricSummary(
        name=s.name,
        original=s.original,
        points=len(s),
        nonfinite_points=int(bad.sum()),
        first_nonfinite_step=first_nonfinite,
        first_step=int(steps[0]) if len(s) else None,
        last_step=int(steps[-1]) if len(s) else None,
        first_value=float(fv[0]) if fv.shape[0] else None,
        last_value=float(fv[-1]) if fv.shape[0] else None,
        goal=goal,
        best_value=None,
        best_step=None,
    )
    if fv.shape[0] == 0:
        return out
    if goal is not None:
        i = int(np.argmin(fv) if goal == "min" else np.argmax(fv))
        out.best_value = float(fv[i])
        out.best_step = int(fs[i])
        out.best_position = position(float(fs[i]), float(steps[0]), float(steps[-1]))
    late = fv[-max(3, math.ceil(fv.shape[0] * LATE_FRACTION)) :]
    if late.shape[0] >= 3:
        d = np.diff(late)
        out.late_step_std = float(np.std(d))
        scale = float(np.mean(np.abs(late)))
        out.late_relative_std = out.late_step_std / scale if scale > 0 else None
    return out


def summarize_run(run: Run) -> RunSummary:
    """Metrics present with point counts, first / last / best values and steps, late noise."""
    metrics = [summarize_series(s) for s in sorted(run.series.values(), key=lambda s: s.name)]
    firsts = [m.first_step for m in metrics if m.first_step is not None]
    lasts = [m.last_step for m in metrics if m.last_step is not None]
    return RunSummary(
        run=run.name,
        source=run.source,
        format=run.format,
        first_step=min(firsts) if firsts else None,
        last_step=max(lasts) if lasts else None,
        metrics=metrics,
        warnings=list(run.warnings),
        resumed_at=list(run.resumed_at),
    )


def resolve_metric(run: Run, metric: str) -> Series | None:
    """The series for ``metric``: an exact name (``"val/acc"``), or a bare quantity (``"acc"``)
    looked up in the order val, test, train-dev, train."""
    s = run.get(metric)
    if s is not None or "/" in metric:
        return s
    for split in _SPLIT_ORDER:
        s = run.get(f"{split}/{metric}")
        if s is not None:
            return s
    return None


def _check_goal(goal: str | None) -> Goal | None:
    if goal is None or goal in ("min", "max"):
        return goal  # type: ignore[return-value]
    raise InvalidArgument(f"goal must be 'min', 'max' or None, got {goal!r}")


def compare_runs(runs: list[Run], metric: str, goal: Goal | None = None) -> RunComparison:
    """Rank runs by the best value of ``metric``: an exact name, or a bare quantity resolved to
    the first split (val, test, train-dev, train) that any run logs, the same for every run.

    ``goal`` defaults to what the name says (losses and errors: min; accuracies, F1, ...: max).
    """
    goal = _check_goal(goal) or infer_goal(metric)
    if goal is None:
        raise InvalidArgument(
            f"cannot tell whether {metric!r} should be minimized or maximized; pass goal='min' "
            "or goal='max'"
        )
    if "/" not in metric:  # one split for every run: never rank one's val against another's train
        metric = next(
            (f"{sp}/{metric}" for sp in _SPLIT_ORDER for r in runs if r.get(f"{sp}/{metric}")),
            metric,
        )
    rows: list[RunRank] = []
    missing: list[str] = []
    for run in runs:
        s = resolve_metric(run, metric)
        m = summarize_series(s, goal) if s is not None else None
        if (
            m is None
            or m.best_value is None
            or m.best_step is None
            or m.last_value is None
            or m.last_step is None
        ):
            missing.append(run.name)
            continue
        rows.append(
            RunRank(
                rank=0,
                run=run.name,
                metric=m.name,
                best_value=m.best_value,
                best_step=m.best_step,
                best_position=m.best_position or 0.0,
                last_value=m.last_value,
                last_step=m.last_step,
                points=m.points,
            )
        )
    rows.sort(key=lambda r: r.best_value if goal == "min" else -r.best_value)
    for i, r in enumerate(rows, start=1):
        r.rank = i
    return RunComparison(metric=metric, goal=goal, ranking=rows, missing=missing)


# At most this many separate non-finite stretches are marked in a view.
_MAX_NONFINITE_MARKS = 8


def downsample_indices(values: np.ndarray, points: int) -> np.ndarray:
    """Indices to keep: min/max buckets over finite points plus the starts of non-finite
    stretches (up to :data:`_MAX_NONFINITE_MARKS`), never more than ``points`` in all."""
    bad = ~np.isfinite(values)
    starts = np.flatnonzero(bad & ~np.concatenate([[False], bad[:-1]]))
    marks = starts[: min(_MAX_NONFINITE_MARKS, max(0, points // 4))]
    budget = max(2, points - marks.shape[0])
    keep = minmax_indices(values, budget)
    return np.union1d(keep, marks).astype(np.intp)


def view_series(s: Series, points: int) -> SeriesView:
    idx = downsample_indices(s.values, points)
    vals = s.values[idx]
    return SeriesView(
        name=s.name,
        original=s.original,
        total_points=len(s),
        nonfinite_points=int((~np.isfinite(s.values)).sum()),
        steps=[int(x) for x in s.steps[idx]],
        values=[float(v) if math.isfinite(v) else None for v in vals],
    )


def summarize_runs(runs: list[Run], *, points: int | None = None) -> RunsView:
    """Every series of every run, downsampled to at most ``points`` points (default 200)."""
    n = DEFAULT_VIEW_POINTS if points is None else points
    if not MIN_VIEW_POINTS <= n <= MAX_VIEW_POINTS:
        raise InvalidArgument(
            f"points must be between {MIN_VIEW_POINTS} and {MAX_VIEW_POINTS}, got {points!r}"
        )
    return RunsView(
        points_per_series=n,
        runs=[
            RunView(
                run=r.name,
                source=r.source,
                format=r.format,
                series=[view_series(s, n) for s in sorted(r.series.values(), key=lambda s: s.name)],
                warnings=list(r.warnings),
            )
            for r in runs
        ],
    )


__all__ = [
    "DEFAULT_VIEW_POINTS",
    "LATE_FRACTION",
    "MetricSummary",
    "RunComparison",
    "RunRank",
    "RunSummary",
    "RunView",
    "RunsView",
    "SeriesView",
    "compare_runs",
    "resolve_metric",
    "summarize_run",
    "summarize_runs",
    "summarize_series",
    "view_series",
]
