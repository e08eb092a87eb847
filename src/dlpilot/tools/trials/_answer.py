"""A round's design and its answer: the target values and the best objective per value.

``target_grid`` / ``assign_targets`` spread a round's trials over its target values when the
targets have few values, so that each value gets its own nuisance search (seed 001 section 3.2,
"multiple trials per target hyperparam value"). The runner enqueues each assignment with
``study.enqueue_trial(values)``: Optuna fixes those parameters and the sampler chooses the others.

``round_answer`` answers the round's question: the best objective per target value (or per bin of
a continuous target's axis) and whether the lead over the runner-up exceeds the seed-to-seed
spread (``seed_spread``, pooled over the configurations re-run with several seeds).

Also the small helpers the analysis shares: objective keys, parameter axes, scored trials.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import JsonValue

from dlpilot.errors import InvalidArgument
from dlpilot.tools.trials._results import ParamValue, RoundAnswer, TargetValueResult, TrialRecord
from dlpilot.tools.trials._round import CategoricalParam, FloatParam, IntParam, RoundFile

# A target with at most this many values is compared value by value; above, along its axis.
MAX_TARGET_LEVELS = 8
AXIS_BINS = 5

Direction = Literal["minimize", "maximize"]
Edge = Literal["low", "high"]


# --- small helpers ---------------------------------------------------------------------------


def _key(value: float, direction: Direction) -> float:
    """The objective as "lower is better"."""
    return value if direction == "minimize" else -value


def _num(x: float, digits: int = 4) -> JsonValue:
    """A float for evidence and messages: significant digits kept, non-finite as a string."""
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return float(f"{x:.{digits}g}")


def _fmt(x: ParamValue | float) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _scored(t: TrialRecord) -> bool:
    return t.state == "complete" and t.value is not None and math.isfinite(t.value)


def _nonfinite_value(t: TrialRecord) -> bool:
    return t.state == "complete" and t.value is not None and not math.isfinite(t.value)


def _config_key(params: Mapping[str, ParamValue]) -> str:
    return json.dumps(dict(params), sort_keys=True)


def _ranked(trials: Sequence[TrialRecord], direction: Direction) -> list[TrialRecord]:
    """Scored search and baseline trials, best first (seed re-runs repeat a configuration)."""
    pool = [t for t in trials if _scored(t) and t.kind != "seed-rerun"]
    return sorted(pool, key=lambda t: (_key(t.value or 0.0, direction), t.number))


# --- the parameter axes ----------------------------------------------------------------------

Numeric = FloatParam | IntParam | CategoricalParam


def _numeric_choices(p: CategoricalParam) -> list[float] | None:
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in p.choices):
        return sorted(float(c) for c in p.choices)
    return None


def _is_log(p: Numeric) -> bool:
    if isinstance(p, CategoricalParam):
        ch = _numeric_choices(p)
        return bool(ch and ch[0] > 0 and ch[-1] / ch[0] >= 8)  # e.g. widths 32..256
    return p.log


def _bounds(p: Numeric) -> tuple[float, float] | None:
    if isinstance(p, CategoricalParam):
        ch = _numeric_choices(p)
        return (ch[0], ch[-1]) if ch and len(ch) > 1 else None
    return float(p.low), float(p.high)


def _position(p: Numeric, x: float) -> float:
    """Where ``x`` sits on the parameter's axis, 0 at low and 1 at high (log scale for log)."""
    b = _bounds(p)
    assert b is not None
    lo, hi = b
    if isinstance(p, CategoricalParam):  # the choices are the axis: its ticks are equally spaced
        ch = _numeric_choices(p) or []
        return ch.index(x) / (len(ch) - 1) if x in ch else float("nan")
    if _is_log(p):
        return (math.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (x - lo) / (hi - lo)


def _levels(p: Numeric) -> list[ParamValue] | None:
    """The values of a parameter with few of them (compared one by one), else None."""
    if isinstance(p, CategoricalParam):
        return list(p.choices)
    if isinstance(p, IntParam):
        n = (p.high - p.low) // p.step + 1
        return list(range(p.low, p.high + 1, p.step)) if n <= MAX_TARGET_LEVELS else None
    if p.step is not None:
        n = math.floor((p.high - p.low) / p.step + 1e-9) + 1
        if n <= MAX_TARGET_LEVELS:
            return [p.low + i * p.step for i in range(n)]
    return None


def _axis_value(t: TrialRecord, name: str) -> float | None:
    v = t.params.get(name)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _axes(round: RoundFile) -> dict[str, Numeric]:
    """The varied parameters with an order: float, int and numeric categorical ones."""
    out: dict[str, Numeric] = {}
    for name, p in round.varied.items():
        if isinstance(p, CategoricalParam) and _numeric_choices(p) is None:
            continue
        if _bounds(p) is not None:
            out[name] = p
    return out


# --- target values: the round's design -------------------------------------------------------


def target_grid(round: RoundFile) -> list[dict[str, ParamValue]] | None:
    """The combinations of the target values when every target has few values (a choice, a
    small int range, a stepped float, a boolean as a choice of two), in file order; None when
    the round has no target or one is continuous (the sampler covers its axis instead)."""
    targets = round.targets
    if not targets:
        return None
    levels = []
    for name in targets:
        lv = _levels(round.varied[name])
        if lv is None:
            return None
        levels.append(lv)
    return [dict(zip(targets, combo, strict=True)) for combo in itertools.product(*levels)]


def assign_targets(
    round: RoundFile,
    n_trials: int,
    done: Sequence[Mapping[str, ParamValue]] = (),
) -> list[dict[str, ParamValue]]:
    """Target values for the next ``n_trials`` trials, balanced over :func:`target_grid`.

    Each new trial goes to the combination with the fewest trials so far (``done``: the params
    of the trials already run or queued, e.g. after a restart; ties go in grid order), so every
    target value gets its own nuisance search however far the round gets. The runner enqueues
    each dict with ``study.enqueue_trial(values)``; the sampler chooses the nuisance parameters.
    Returns ``[]`` when the targets are continuous or absent (the sampler chooses everything).
    """
    if n_trials < 0:
        raise InvalidArgument(f"n_trials must be >= 0, got {n_trials!r}")
    grid = target_grid(round)
    if not grid:
        return []
    keys = [_config_key(g) for g in grid]
    counts = dict.fromkeys(keys, 0)
    for params in done:
        k = _config_key({n: params[n] for n in round.targets if n in params})
        if k in counts:
            counts[k] += 1
    out = []
    for _ in range(n_trials):
        i = min(range(len(grid)), key=lambda j: (counts[keys[j]], j))
        counts[keys[i]] += 1
        out.append(dict(grid[i]))
    return out


# --- seed noise ------------------------------------------------------------------------------


def _config_groups(trials: Sequence[TrialRecord]) -> dict[str, list[TrialRecord]]:
    """Scored trials grouped by configuration, for the configurations that were re-run with
    other seeds (the original run counts as one of the seeds)."""
    rerun = {_config_key(t.params) for t in trials if t.kind == "seed-rerun"}
    groups: dict[str, list[TrialRecord]] = {}
    for t in trials:
        k = _config_key(t.params)
        if k in rerun and _scored(t):
            groups.setdefault(k, []).append(t)
    return {k: g for k, g in groups.items() if len(g) >= 2}


def seed_spread(trials: Sequence[TrialRecord]) -> float | None:
    """The pooled seed-to-seed standard deviation of the objective over the configurations run
    with several seeds; None without seed re-runs."""
    groups = _config_groups(trials)
    if not groups:
        return None
    ss = sum(
        float(np.var([t.value or 0.0 for t in g], ddof=1)) * (len(g) - 1) for g in groups.values()
    )
    return math.sqrt(ss / sum(len(g) - 1 for g in groups.values()))


# --- the round's answer ----------------------------------------------------------------------


def _per_value(
    round: RoundFile, name: str, pool: list[TrialRecord], direction: Direction
) -> list[TargetValueResult]:
    """The best scored trial at each value of a target (or in each bin of its axis)."""
    p = round.varied[name]
    levels = _levels(p)
    groups: list[tuple[ParamValue, list[TrialRecord]]] = []
    if levels is not None:
        groups = [(lv, [t for t in pool if t.params.get(name) == lv]) for lv in levels]
    elif isinstance(p, FloatParam | IntParam):
        lo, hi = float(p.low), float(p.high)
        edges = np.linspace(0.0, 1.0, AXIS_BINS + 1)
        for i in range(AXIS_BINS):
            a, b = edges[i], edges[i + 1]
            members = [
                t
                for t in pool
                if (v := _axis_value(t, name)) is not None
                and a <= _position(p, v) < b + (1e-12 if i == AXIS_BINS - 1 else 0.0)
            ]
            mid = (a + b) / 2
            centre = lo * (hi / lo) ** mid if p.log else lo + (hi - lo) * mid
            groups.append((float(_num(centre, 3)), members))  # type: ignore[arg-type]
    out = []
    for value, members in groups:
        best = min(members, key=lambda t: _key(t.value or 0.0, direction), default=None)
        out.append(
            TargetValueResult(
                param=name,
                value=value,
                best_value=None if best is None else best.value,
                best_trial=None if best is None else best.number,
                trials=len(members),
            )
        )
    return out


def _gap(
    rows: list[TargetValueResult], direction: Direction
) -> tuple[TargetValueResult, TargetValueResult, float] | None:
    have = sorted(
        (r for r in rows if r.best_value is not None),
        key=lambda r: _key(r.best_value or 0.0, direction),
    )
    if len(have) < 2:
        return None
    a, b = have[0], have[1]
    return a, b, _key(b.best_value or 0.0, direction) - _key(a.best_value or 0.0, direction)


def round_answer(
    round: RoundFile, trials: Sequence[TrialRecord], spread: float | None = None
) -> RoundAnswer:
    """The best objective per target value (or per bin of a continuous target's axis), whether
    the lead of the best value over the runner-up exceeds ``spread`` (for every target; None
    without seed re-runs), and a paragraph saying so. Several targets are answered one by one
    (each value's best over the others' values); seed re-runs are not counted as trials."""
    direction: Direction = round.objective.direction
    metric = round.objective.metric
    pool = _ranked(trials, direction)
    targets = round.targets
    nuis = ", ".join(round.nuisance) or "nothing"
    fixed = ", ".join(f"{k}={_fmt(v)}" for k, v in round.fixed.items())
    intro = f"Round {round.name!r}"
    if not targets:
        best = pool[0] if pool else None
        text = f"{intro} has no target parameter: it tunes {nuis}. " + (
            f"The best {metric} is {best.value:.4g} (trial {best.number})."
            if best and best.value is not None
            else "No trial has a value yet."
        )
        return RoundAnswer(targets=[], seed_spread=spread, text=text)
    sentences = [
        f"{intro} compares {', '.join(targets)} with {nuis} tuned"
        + (f" and {fixed} fixed." if fixed else ".")
    ]
    rows: list[TargetValueResult] = []
    verdicts: list[bool] = []
    for name in targets:
        p = round.varied[name]
        per = _per_value(round, name, pool, direction)
        rows += per
        binned = _levels(p) is None
        listed = ", ".join(
            f"{name}{' ~' if binned else '='}{_fmt(r.value)}: {r.best_value:.4g} (trial "
            f"{r.best_trial}, {r.trials} trial{'s' * (r.trials != 1)})"
            for r in per
            if r.best_value is not None
        )
        empty = [r for r in per if r.best_value is None]
        how = "per value"
        if binned:
            how = "along its axis (bins of equal width" + (", log scale)" if _is_log(p) else ")")
        s = f"Best {metric} of {name} {how}: {listed or 'none yet'}"
        if empty:
            s += f"; no finished trial at {', '.join(_fmt(r.value) for r in empty)}"
        sentences.append(s + ".")
        g = _gap(per, direction)
        if g is None:
            continue
        a, b, gap = g
        lead = f"{name}={_fmt(a.value)} leads {_fmt(b.value)} by {gap:.4g}"
        if spread is None:
            sentences.append(
                f"{lead}; without seed re-runs it is unknown whether that exceeds the noise "
                "(set seeds.top to measure it)."
            )
        else:
            verdicts.append(gap > spread)
            sentences.append(
                f"{lead}, {'above' if gap > spread else 'within'} the seed-to-seed spread "
                f"{spread:.4g}: "
                + ("the difference is real." if gap > spread else "not yet distinguishable.")
            )
    return RoundAnswer(
        targets=targets,
        per_value=rows,
        seed_spread=spread,
        exceeds_noise=all(verdicts) if verdicts else None,
        text=" ".join(sentences),
    )


__all__ = [
    "assign_targets",
    "round_answer",
    "seed_spread",
    "target_grid",
]
