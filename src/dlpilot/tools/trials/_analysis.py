"""The playbook's analysis of a round (seed 001 sections 3.2-3.4), as findings and an answer.

``analyze_round`` reads a round's trial records (and, when given, the curves of its trials) and
returns the ``trials.*`` findings with their evidence, the curve findings of its top trials, and
the :class:`RoundAnswer` of ``_answer.round_answer``.

Vocabulary: a *scored* trial completed with a finite objective; an *explored* one is scored or
pruned (it was judged at its point); a *bad* one went non-finite, ran out of memory, collapsed
or diverged (``_stability``, which also finds the unstable regions).

Calling it: ``analyze_round(round, trials, curves)`` with every record of the study (search,
baseline and seed re-run trials; running ones are ignored) and, when the runner has them, the
trials' curves as ``Run`` objects keyed by trial number. Findings come sorted by severity, one per
id (several parameters are several evidence entries), then the curve findings of the top trials.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import JsonValue

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding, finding
from dlpilot.tools.trials._answer import (
    Direction,
    Edge,
    Numeric,
    _axes,
    _axis_value,
    _bounds,
    _config_groups,
    _config_key,
    _fmt,
    _is_log,
    _key,
    _nonfinite_value,
    _num,
    _numeric_choices,
    _position,
    _ranked,
    _scored,
    round_answer,
    seed_spread,
    target_grid,
)
from dlpilot.tools.trials._results import ParamValue, RoundAnswer, TrialRecord
from dlpilot.tools.trials._round import CategoricalParam, IntParam, RoundFile
from dlpilot.tools.trials._stability import _numbers, unstable_finding, unstable_regions

if TYPE_CHECKING:
    from dlpilot.tools.curves._model import Run


# trials.best-at-boundary: shared/checks.md's threshold: the best within the outer 10% of a range.
BOUNDARY_SHARE = 0.10
# The best trials looked at: the best one must sit in the edge zone and most of these on its side
# of the middle, so one lucky trial at an edge is not called a trend.
BOUNDARY_TOP = 3
# ... and the objective must improve toward that edge over all trials: Spearman's correlation of
# position and objective, as a z-score, past the one-sided 1% level (an irrelevant parameter's
# best trial sits in an edge zone a fifth of the time by chance).
BOUNDARY_TREND_Z = 2.326
# How far a suggested range reaches past its edge: half the span (log params: at most a decade).
EXPAND_SHARE = 0.5
EXPAND_MAX_DECADES = 1.0
# trials.infeasible: shared/checks.md's threshold on failed / non-finite / out-of-memory trials.
INFEASIBLE_SHARE = 0.20
# trials.sparse: explored trials per varied parameter (a rule of thumb for random / quasi-random
# search: fewer than ~5 points per dimension leaves most of each axis unseen); and per target
# value, this many per nuisance parameter, at least SPARSE_MIN_PER_VALUE.
SPARSE_PER_PARAM = 5
SPARSE_MIN_PER_VALUE = 2
# trials.no-progress: rounds of at least this many explored trials; the last half of them (at
# least NO_PROGRESS_MIN_TAIL) must improve the best by more than the seed spread, or, without
# seed re-runs, by more than this share of the gap between the median and the best value.
NO_PROGRESS_MIN_TRIALS = 16
NO_PROGRESS_TAIL_SHARE = 1 / 2
NO_PROGRESS_MIN_TAIL = 4
NO_PROGRESS_REL = 0.01
# Only samplers that learn from earlier trials are judged: in a random or quasi-random round the
# order of the trials is chance, and a record in its last half is a coin flip.
ADAPTIVE_SAMPLERS = frozenset({"tpe", "gp"})
# Curve diagnosis of the best few trials whose curves are given.
TOP_CURVES = 3

_HOW: Literal["trials"] = "trials"


# --- the findings ----------------------------------------------------------------------------


def _cause(t: TrialRecord) -> str:
    return "nonfinite" if _nonfinite_value(t) else (t.exit_cause or "unknown")


def _json_list(values: Iterable[ParamValue | JsonValue]) -> list[JsonValue]:
    out: list[JsonValue] = [v for v in values if not isinstance(v, dict | list)]
    return out


def _infeasible(trials: Sequence[TrialRecord]) -> Finding | None:
    finished = [t for t in trials if t.state in ("complete", "pruned", "failed")]
    bad = [t for t in finished if t.state == "failed" or _nonfinite_value(t)]
    if not finished or len(bad) / len(finished) <= INFEASIBLE_SHARE:
        return None
    cause = {t.number: _cause(t) for t in bad}
    causes = Counter(cause.values())
    by_cause: dict[str, JsonValue] = {
        c: _numbers(t for t in bad if cause[t.number] == c) for c in causes
    }
    advice = {
        "nonfinite": "lower the upper bound of the learning rate or stabilize (warmup, clipping)",
        "oom": "lower the batch size or model width range, or give each trial a whole GPU",
        "timeout": "raise trial_timeout_s or shorten the trials",
        "crashed": "read the output tail of a crashed trial",
        "no-metrics": "check that `metrics` points at the files the command writes",
    }
    tips = [advice[c] for c in causes if c in advice]
    share = len(bad) / len(finished)
    text = ", ".join(f"{n} {c}" for c, n in causes.most_common())
    return finding(
        "trials.infeasible",
        f"{len(bad)} of {len(finished)} finished trials ({share:.0%}) failed or were infeasible "
        f"({text}), above the {INFEASIBLE_SHARE:.0%} threshold"
        + (f": {'; '.join(tips)}." if tips else "."),
        how=_HOW,
        detail={
            "share": _num(share, 3),
            "threshold": INFEASIBLE_SHARE,
            "finished": len(finished),
            "causes": {c: n for c, n in causes.items()},
            "trials_by_cause": by_cause,
            "example": next((t.exit_detail for t in bad if t.exit_detail), "")[:300],
        },
    )


def _expanded(p: Numeric, edge: Edge) -> list[ParamValue] | tuple[float, float] | None:
    """A suggested range reaching past ``edge``; None when the edge is a natural limit (0 for a
    non-negative linear range, 1 for an int log range)."""
    if isinstance(p, CategoricalParam):
        ch = _numeric_choices(p) or []
        a, b = (ch[0], ch[1]) if edge == "low" else (ch[-1], ch[-2])
        nxt = a * a / b if _is_log(p) else a + (a - b)
        if nxt <= 0 and a >= 0 and edge == "low":
            return None
        new = int(nxt) if all(isinstance(c, int) for c in p.choices) else _num(nxt)
        return [new, *p.choices] if edge == "low" else [*p.choices, new]  # type: ignore[list-item]
    lo, hi = float(p.low), float(p.high)
    if _is_log(p):
        factor = min((hi / lo) ** EXPAND_SHARE, 10**EXPAND_MAX_DECADES)
        lo, hi = (lo / factor, hi) if edge == "low" else (lo, hi * factor)
    else:
        span = (hi - lo) * EXPAND_SHARE
        if edge == "low":
            if p.low >= 0 and lo - span < 0:
                if p.low == 0:
                    return None
                span = lo
            lo -= span
        else:
            hi += span
    if isinstance(p, IntParam):
        lo_i, hi_i = math.floor(lo), math.ceil(hi)
        if (lo_i, hi_i) == (p.low, p.high) or (p.log and lo_i < 1):
            return None
        return (lo_i, hi_i)
    return (float(_num(lo)), float(_num(hi)))  # type: ignore[arg-type]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's convention)."""
    order = np.argsort(x, kind="stable")
    r = np.empty(x.shape[0])
    r[order] = np.arange(x.shape[0], dtype=float)
    for v in np.unique(x):
        tie = x == v
        r[tie] = r[tie].mean()
    return r


def _trend_z(p: Numeric, name: str, ranked: list[TrialRecord], direction: Direction) -> float:
    """Spearman's correlation between a parameter's position and the objective ("lower is
    better"), scaled to a z-score (its null std is 1/sqrt(n - 1)): positive when lower positions
    score better."""
    pairs = [
        (_position(p, v), _key(t.value or 0.0, direction))
        for t in ranked
        if (v := _axis_value(t, name)) is not None
    ]
    pairs = [(a, b) for a, b in pairs if math.isfinite(a)]
    if len(pairs) < 4:
        return 0.0
    a, b = _ranks(np.array([x for x, _ in pairs])), _ranks(np.array([y for _, y in pairs]))
    if a.std() == 0 or b.std() == 0:
        return 0.0
    rho = float(np.corrcoef(a, b)[0, 1])
    return rho * math.sqrt(len(pairs) - 1)


def _boundary(
    round: RoundFile,
    ranked: list[TrialRecord],
    unstable: set[tuple[str, Edge]],
) -> Finding | None:
    if len(ranked) < BOUNDARY_TOP:
        return None
    top = ranked[:BOUNDARY_TOP]
    hits: list[dict[str, JsonValue]] = []
    for name, p in _axes(round).items():
        pos = [
            _position(p, v) if (v := _axis_value(t, name)) is not None else math.nan for t in top
        ]
        if not math.isfinite(pos[0]):
            continue
        edge: Edge
        if pos[0] <= BOUNDARY_SHARE:
            edge, side = "low", [x <= 0.5 for x in pos]
        elif pos[0] >= 1 - BOUNDARY_SHARE:
            edge, side = "high", [x >= 0.5 for x in pos]
        else:
            continue
        if 2 * sum(side) <= len(top) or (name, edge) in unstable:
            continue  # one lucky trial at the edge; or the edge is the stability limit
        z = _trend_z(p, name, ranked, round.objective.direction)
        if (z if edge == "low" else -z) < BOUNDARY_TREND_Z:
            continue  # the objective does not improve toward this edge: a coincidence
        new = _expanded(p, edge)
        if new is None:
            continue
        b = _bounds(p)
        assert b is not None
        hits.append(
            {
                "param": name,
                "edge": edge,
                "range": [_num(b[0]), _num(b[1])],
                "log": _is_log(p),
                "best_trial": top[0].number,
                "best_value": _num(top[0].value or 0.0),
                "best_param_value": top[0].params.get(name),
                "top_trials": {str(t.number): t.params.get(name) for t in top},
                "position": _num(pos[0], 3),
                "trend_z": _num(z, 3),
                "suggested": _json_list(new),
            }
        )
    if not hits:
        return None
    parts = [
        f"{h['param']} = {_fmt(h['best_param_value'])} (trial {h['best_trial']}) is at the "  # type: ignore[arg-type]
        f"{h['edge']} edge of {h['range']}; try {h['suggested']}"
        for h in hits
    ]
    f = finding(
        "trials.best-at-boundary",
        "The best trial sits at the edge of the search space: "
        + "; ".join(parts)
        + ". The optimum may lie outside: expand the range and run again.",
        how=_HOW,
        detail=hits[0],
    )
    f.evidence += [f.evidence[0].model_copy(update={"detail": h}) for h in hits[1:]]
    return f


def _within_noise(
    trials: Sequence[TrialRecord], direction: Direction, spread: float | None
) -> Finding | None:
    base = next((t for t in trials if t.kind == "baseline" and _scored(t)), None)
    if base is None or spread is None:
        return None
    groups = _config_groups(trials)
    base_key = _config_key(base.params)
    base_runs = groups.get(base_key, [base])
    candidates = {k: g for k, g in groups.items() if k != base_key}
    if not candidates:
        return None

    def mean_key(g: list[TrialRecord]) -> float:
        return float(np.mean([_key(t.value or 0.0, direction) for t in g]))

    best_key = min(candidates, key=lambda k: mean_key(candidates[k]))
    best = candidates[best_key]
    gain = mean_key(base_runs) - mean_key(best)
    if gain > spread:
        return None
    sign = 1 if direction == "minimize" else -1
    return finding(
        "trials.within-noise",
        f"The best re-run configuration (trial {best[0].number}: "
        f"{', '.join(f'{k}={_fmt(v)}' for k, v in best[0].params.items())}) improves on the "
        f"baseline (trial {base.number}) by {gain:.4g} on average over {len(best)} and "
        f"{len(base_runs)} seeds, {'less than' if gain > 0 else 'not more than'} the seed-to-seed "
        f"spread {spread:.4g}: keep the baseline and record the configuration as interesting, "
        "not adopted (seed 001 section 3.4).",
        how=_HOW,
        detail={
            "baseline_trial": base.number,
            "baseline_mean": _num(sign * mean_key(base_runs)),
            "baseline_runs": [t.number for t in base_runs],
            "best_trial": best[0].number,
            "best_mean": _num(sign * mean_key(best)),
            "best_runs": [t.number for t in best],
            "improvement": _num(gain),
            "seed_spread": _num(spread),
        },
    )


def _explored(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    keep = [t for t in trials if t.kind != "seed-rerun" and (_scored(t) or t.state == "pruned")]
    return sorted(keep, key=lambda t: t.number)


def _sparse(round: RoundFile, trials: Sequence[TrialRecord]) -> Finding | None:
    explored = _explored(trials)
    n_varied = len(round.varied)
    need = SPARSE_PER_PARAM * n_varied
    short: dict[str, JsonValue] = {}
    grid = target_grid(round)
    per_value_need = max(SPARSE_MIN_PER_VALUE, SPARSE_PER_PARAM * len(round.nuisance))
    for combo in grid or []:
        n = sum(all(t.params.get(k) == v for k, v in combo.items()) for t in explored)
        if n < per_value_need:
            short[", ".join(f"{k}={_fmt(v)}" for k, v in combo.items())] = n
    if len(explored) >= need and not short:
        return None
    msg = (
        f"{len(explored)} explored trials (completed or pruned) for {n_varied} varied "
        f"parameters; the rule is at least {SPARSE_PER_PARAM} a parameter ({need})"
    )
    if short:
        msg += (
            f", and {per_value_need} for each target value (its own nuisance search); short: "
            + ", ".join(f"{k} ({v})" for k, v in short.items())
        )
    return finding(
        "trials.sparse",
        msg + ". Too few to trust the best point: run more trials before acting on it.",
        how=_HOW,
        detail={
            "explored": len(explored),
            "varied_params": n_varied,
            "needed": need,
            "per_param": SPARSE_PER_PARAM,
            "per_target_value_needed": per_value_need if grid else None,
            "short_target_values": short,
        },
    )


def _no_progress(
    round: RoundFile, trials: Sequence[TrialRecord], spread: float | None
) -> Finding | None:
    if round.sampler not in ADAPTIVE_SAMPLERS:
        return None
    direction: Direction = round.objective.direction
    explored = _explored(trials)
    if len(explored) < NO_PROGRESS_MIN_TRIALS:
        return None
    n_tail = max(NO_PROGRESS_MIN_TAIL, math.ceil(len(explored) * NO_PROGRESS_TAIL_SHARE))
    head, tail = explored[:-n_tail], explored[-n_tail:]
    head_keys = [_key(t.value or 0.0, direction) for t in head if _scored(t)]
    all_keys = head_keys + [_key(t.value or 0.0, direction) for t in tail if _scored(t)]
    if not head_keys:
        return None
    gain = min(head_keys) - min(all_keys)
    if spread is not None:
        tol, basis = spread, "the seed-to-seed spread"
    else:
        tol = NO_PROGRESS_REL * (float(np.median(all_keys)) - min(all_keys))
        basis = f"{NO_PROGRESS_REL:.0%} of the gap between the median and the best value"
    if gain > tol:
        return None
    best = min((t for t in explored if _scored(t)), key=lambda t: _key(t.value or 0.0, direction))
    return finding(
        "trials.no-progress",
        f"The last {n_tail} trials (from trial {tail[0].number} on) improved the best value by "
        f"{gain:.4g}, not more than {basis} ({tol:.4g}); the best is trial {best.number}. "
        "More trials of this space are unlikely to pay: narrow the space around the best trials, "
        "switch to a Bayesian sampler, or answer the next question.",
        how=_HOW,
        detail={
            "tail_trials": [t.number for t in tail],
            "improvement": _num(gain),
            "tolerance": _num(tol),
            "tolerance_basis": "seed spread" if spread is not None else "median-to-best gap",
            "best_trial": best.number,
            "best_value": _num(best.value or 0.0),
        },
    )


# --- curves of the top trials ----------------------------------------------------------------


def _curve_findings(
    round: RoundFile, ranked: list[TrialRecord], curves: Mapping[int, Run]
) -> list[Finding]:
    """The curve diagnosis (seed 001 section 3.3: overfitting, saturation, instabilities) of the
    best ``TOP_CURVES`` trials with curves, each evidence naming its trial."""
    from dlpilot.tools.curves._diagnose import diagnose_runs

    top = [t for t in ranked if t.number in curves][:TOP_CURVES]
    if not top:
        return []
    runs = [replace(curves[t.number], name=f"trial-{t.number}") for t in top]
    numbers = {r.name: t.number for r, t in zip(runs, top, strict=True)}
    goal: Literal["min", "max"] = "min" if round.objective.direction == "minimize" else "max"
    try:
        diagnosis = diagnose_runs(runs, metric=round.objective.metric, goal=goal)
    except InvalidArgument:
        return []  # e.g. a metric none of the runs logs: the trials findings still stand
    out = []
    for f in diagnosis.findings:
        evidence = []
        for e in f.evidence:
            run = e.detail.get("run")
            trial = numbers.get(run) if isinstance(run, str) else None
            evidence.append(e.model_copy(update={"detail": {**e.detail, "trial": trial}}))
        out.append(f.model_copy(update={"evidence": evidence}))
    return out


# --- entry point -----------------------------------------------------------------------------


def analyze_round(
    round: RoundFile,
    trials: list[TrialRecord],
    curves: Mapping[int, Run] | None = None,
) -> tuple[list[Finding], RoundAnswer]:
    """The playbook's analysis of a round: the ``trials.*`` findings, the curve findings of the
    top trials (when ``curves``, keyed by trial number, are given) and the round's answer.

    Only finished trials count (running and waiting ones are ignored), so it can run mid-round.
    """
    direction: Direction = round.objective.direction
    spread = seed_spread(trials)
    ranked = _ranked(trials, direction)
    found: list[Finding] = []
    unstable = unstable_regions(round, trials, curves)
    if unstable:
        found.append(unstable_finding(unstable))
    for f in (
        _infeasible(trials),
        _boundary(round, ranked, {(n, e) for n, e, _, _ in unstable}),
        _within_noise(trials, direction, spread),
        _sparse(round, trials),
        _no_progress(round, trials, spread),
    ):
        if f is not None:
            found.append(f)
    found.sort(key=lambda f: (f.severity.rank, f.id))
    if curves:
        found += _curve_findings(round, ranked, curves)
    return found, round_answer(round, trials, spread)


__all__ = ["analyze_round"]
