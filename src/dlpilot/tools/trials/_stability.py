"""Unstable regions of a round: where along a parameter most trials diverged or collapsed.

A trial is *bad* (``bad_points``) when it went non-finite or ran out of memory, when its value
belongs to a far worse, well separated group (``_collapsed``: a collapse to chance level) or,
with its curves, when its training loss ended where it started or above (``_curve_verdict``).
``unstable_regions`` scans every split point of every ordered varied parameter for a side where
most trials are bad; the split's hypergeometric tail probability is judged against the same
minimum over permuted labels, so scanning many splits and parameters does not manufacture one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools.trials._answer import (
    Direction,
    Edge,
    _axes,
    _axis_value,
    _fmt,
    _is_log,
    _key,
    _nonfinite_value,
    _num,
    _scored,
)
from dlpilot.tools.trials._results import TrialRecord
from dlpilot.tools.trials._round import RoundFile

if TYPE_CHECKING:
    from dlpilot.tools.curves._model import Run


INFEASIBLE_CAUSES = frozenset({"oom", "nonfinite"})
# trials.unstable-region: a split is reported when the permutation test of its hypergeometric
# tail probability (minimum over every split of every parameter, so the scan is accounted for)
# gives p <= UNSTABLE_ALPHA; "most trials beyond" = more than half, and at least UNSTABLE_MIN_BAD.
UNSTABLE_ALPHA = 0.01
UNSTABLE_MIN_BAD = 3
UNSTABLE_PERMUTATIONS = 999
# Collapse (value far worse, see _collapsed): this many times further from the best than the
# typical better trial, and this many times further than the nearest better one.
COLLAPSE_FACTOR = 10.0
COLLAPSE_GAP = 1.5
# The good group is at least this share of the values: the median of a handful of near-best
# values is no scale (their distances to the best are near zero, any ratio to them is large).
COLLAPSE_MIN_GOOD = 0.25
# With curves: a trial whose training loss fell by less than this share of its start learned
# nothing (collapsed), one whose loss rose by more diverged; the start and end are medians of the
# first and last tenth of at least CURVE_MIN_POINTS finite points.
TRAIN_LOSS = "train/loss"
CURVE_LEARNED_MIN = 0.10
CURVE_END_SHARE = 0.10
CURVE_MIN_POINTS = 5


def _numbers(trials: Iterable[TrialRecord], limit: int = 30) -> list[JsonValue]:
    """Trial numbers for evidence, at most ``limit``."""
    out: list[JsonValue] = [t.number for t in trials]
    return out[:limit]


def _collapsed(values: np.ndarray, direction: Direction) -> float | None:
    """The cut between the good values and a far worse, well separated group (a collapse to
    chance, or training that went nowhere), in "lower is better" units; None when there is none.

    With ``d`` each value's distance from the best, sorted: a cut before ``d[i]`` is a candidate
    when ``d[i]`` is at least ``COLLAPSE_FACTOR`` times the median distance of the values below it
    (a slow but training configuration is a few times worse than typical, one at chance level tens
    of times) and at least ``COLLAPSE_GAP`` times ``d[i - 1]`` (a break, not a smooth tail); the
    first such break is the cut. At least ``COLLAPSE_MIN_GOOD`` of the values stay good."""
    k = np.sort(np.array([_key(float(v), direction) for v in values]))
    if k.shape[0] < 4:
        return None
    d = k - k[0]
    for i in range(max(3, math.ceil(COLLAPSE_MIN_GOOD * d.shape[0])), d.shape[0]):
        typical = float(np.median(d[1:i]))
        if typical > 0 and d[i] >= COLLAPSE_FACTOR * typical and d[i] >= COLLAPSE_GAP * d[i - 1]:
            return float((k[i - 1] + k[i]) / 2)
    return None


def _curve_verdict(run: Run | None, metric: str) -> str:
    """What a trial's curves say about its stability: "nonfinite" (its objective or training
    loss went non-finite), "diverged" (the training loss ended clearly above where it started),
    "collapsed" (it ended about where it started: nothing learned), else "". The ends are the
    medians of the first and last ``CURVE_END_SHARE`` of the finite points, so step noise does not
    decide; a run whose validation loss rises while its training loss falls is overfitting, which
    is not judged here."""
    if run is None:
        return ""
    for name in (metric, TRAIN_LOSS):
        s = run.get(name)
        if s is not None and len(s) and not bool(np.isfinite(s.values).all()):
            return "nonfinite"
    s = run.get(TRAIN_LOSS)
    if s is None:
        return ""
    v = s.values[np.isfinite(s.values)]
    if v.shape[0] < CURVE_MIN_POINTS:
        return ""
    k = max(1, int(v.shape[0] * CURVE_END_SHARE))
    start, end = float(np.median(v[:k])), float(np.median(v[-k:]))
    if start == 0:
        return ""
    learned = (start - end) / abs(start)
    if learned < -CURVE_LEARNED_MIN:
        return "diverged"
    return "collapsed" if learned < CURVE_LEARNED_MIN else ""


def bad_points(
    trials: Sequence[TrialRecord],
    direction: Direction,
    curves: Mapping[int, Run] | None = None,
    metric: str = "",
) -> dict[int, str]:
    """Each judged trial's number -> "" (stable) or why it is bad: its exit cause ("nonfinite",
    "oom"), what its curves say (``_curve_verdict``, when given), or "collapsed" for a value in
    the far worse group of ``_collapsed``. Pruned trials and failures for other causes say nothing
    about stability."""
    scored = [t for t in trials if _scored(t)]
    cut = _collapsed(np.array([t.value for t in scored]), direction)
    out: dict[int, str] = {}
    for t in trials:
        if t.state == "failed" and t.exit_cause in INFEASIBLE_CAUSES:
            out[t.number] = str(t.exit_cause)
        elif _nonfinite_value(t):
            out[t.number] = "nonfinite"
        elif _scored(t):
            verdict = _curve_verdict((curves or {}).get(t.number), metric)
            if not verdict and cut is not None and _key(t.value or 0.0, direction) > cut:
                verdict = "collapsed"
            out[t.number] = verdict
    return out


def _tail_table(n: int, b: int) -> np.ndarray:
    """``T[m, j]`` = P(X >= j) for X ~ Hypergeometric(n trials, b bad, m drawn)."""
    lf = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))])

    def log_comb(a: np.ndarray | int, c: np.ndarray | int) -> np.ndarray:
        return np.asarray(lf[a] - lf[c] - lf[np.subtract(a, c)])

    table = np.zeros((n + 1, b + 2))
    j_all = np.arange(b + 1)
    for m in range(n + 1):
        j = j_all[(j_all >= m - (n - b)) & (j_all <= m)]
        pmf = np.zeros(b + 2)
        pmf[j] = np.exp(log_comb(b, j) + log_comb(n - b, m - j) - log_comb(n, m))
        table[m] = np.cumsum(pmf[::-1])[::-1]
    return table


def _split_pvalues(
    order_bad: np.ndarray, cuts: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For bad flags sorted along an axis (rows: permutations) and the cut positions between
    distinct values: the tail p of "beyond" each cut, above and below (1 where "most" fails)."""
    n = order_bad.shape[-1]
    csum = np.concatenate([np.zeros((*order_bad.shape[:-1], 1)), np.cumsum(order_bad, -1)], -1)
    below_bad = csum[..., cuts]  # bad among the first `cut` trials
    above_bad = csum[..., -1:] - below_bad
    n_below, n_above = cuts, n - cuts

    def p_of(bad: np.ndarray, m: np.ndarray) -> np.ndarray:
        p = table[m, bad.astype(int)]
        ok = (2 * bad > m) & (bad >= UNSTABLE_MIN_BAD)
        return np.where(ok, p, 1.0)

    return p_of(above_bad, n_above), p_of(below_bad, n_below)


def unstable_regions(
    round: RoundFile, trials: Sequence[TrialRecord], curves: Mapping[int, Run] | None = None
) -> list[tuple[str, Edge, float, dict[str, JsonValue]]]:
    """Per parameter, the region beyond a value where most trials were bad, when the scan's
    permutation p-value is at most ``UNSTABLE_ALPHA``."""
    direction: Direction = round.objective.direction
    flags = bad_points(trials, direction, curves, round.objective.metric)
    pts = [t for t in trials if t.number in flags]
    bad = np.array([flags[t.number] != "" for t in pts], dtype=float)
    n, b = len(pts), int(bad.sum())
    if b < UNSTABLE_MIN_BAD or b == n:
        return []
    table = _tail_table(n, b)
    rng = np.random.default_rng(0)
    perms = np.array([rng.permutation(bad) for _ in range(UNSTABLE_PERMUTATIONS)])
    null_min = np.ones(UNSTABLE_PERMUTATIONS)
    observed: list[tuple[float, str, Edge, int, np.ndarray]] = []
    for name in _axes(round):
        xs = np.array([_axis_value(t, name) for t in pts], dtype=float)
        keep = np.isfinite(xs)
        if keep.sum() < 2 * UNSTABLE_MIN_BAD:
            continue
        order = np.argsort(xs[keep], kind="stable")
        xs_sorted = xs[keep][order]
        cuts = np.nonzero(np.diff(xs_sorted) > 0)[0] + 1
        if cuts.size == 0:
            continue
        sub = n if keep.all() else int(keep.sum())
        tab = table if sub == n else _tail_table(sub, int(bad[keep].sum()))
        up, down = _split_pvalues(bad[keep][order], cuts, tab)
        pu, pd_ = _split_pvalues(perms[:, keep][:, order], cuts, tab)
        null_min = np.minimum(null_min, np.minimum(pu.min(-1), pd_.min(-1)))
        i_up, i_down = int(np.argmin(up)), int(np.argmin(down))
        if up[i_up] <= down[i_down]:
            observed.append((float(up[i_up]), name, "high", int(cuts[i_up]), xs_sorted))
        else:
            observed.append((float(down[i_down]), name, "low", int(cuts[i_down]), xs_sorted))
    out = []
    for p_obs, name, edge, cut, xs_sorted in observed:
        p_perm = (1 + int((null_min <= p_obs).sum())) / (UNSTABLE_PERMUTATIONS + 1)
        if p_obs >= 1.0 or p_perm > UNSTABLE_ALPHA:
            continue
        param = round.varied[name]
        lo_x, hi_x = float(xs_sorted[cut - 1]), float(xs_sorted[cut])
        value = math.sqrt(lo_x * hi_x) if _is_log(param) and lo_x > 0 else (lo_x + hi_x) / 2
        beyond = [t for t in pts if _beyond(_axis_value(t, name), edge, lo_x, hi_x)]
        beyond_numbers = {t.number for t in beyond}
        inside = [
            t for t in pts if t.number not in beyond_numbers and _axis_value(t, name) is not None
        ]
        bad_beyond = [t for t in beyond if flags[t.number]]
        why = Counter(flags[t.number] for t in bad_beyond)
        detail: dict[str, JsonValue] = {
            "param": name,
            "side": "above" if edge == "high" else "below",
            "value": _num(value),
            "last_stable": _num(lo_x if edge == "high" else hi_x),
            "first_unstable": _num(hi_x if edge == "high" else lo_x),
            "bad_beyond": len(bad_beyond),
            "trials_beyond": len(beyond),
            "bad_inside": sum(1 for t in inside if flags[t.number]),
            "trials_inside": len(inside),
            "causes": {c: k for c, k in why.items()},
            "bad_trials": _numbers(bad_beyond),
            "p_split": _num(p_obs, 3),
            "p_permutation": _num(p_perm, 3),
        }
        out.append((name, edge, value, detail))
    return out


def _beyond(v: float | None, edge: Edge, lo_x: float, hi_x: float) -> bool:
    return v is not None and (v >= hi_x if edge == "high" else v <= lo_x)


def unstable_finding(found: list[tuple[str, Edge, float, dict[str, JsonValue]]]) -> Finding:
    parts = []
    for name, edge, value, d in found:
        side = "above" if edge == "high" else "below"
        parts.append(
            f"{name} {side} ~{_fmt(value)}: {d['bad_beyond']} of {d['trials_beyond']} trials "
            f"diverged or collapsed ({', '.join(f'{n} {c}' for c, n in d['causes'].items())}), "  # type: ignore[union-attr]
            f"against {d['bad_inside']} of {d['trials_inside']} on the other side"
        )
    head = finding(
        "trials.unstable-region",
        "Unstable region: "
        + "; ".join(parts)
        + ". Treat the value as a bound for stability (seed 001 section 5.2: warmup or clipping "
        "may move it), and keep the next round's range inside it.",
        how="trials",
        detail=found[0][3],
    )
    for *_, d in found[1:]:
        head.evidence.append(head.evidence[0].model_copy(update={"detail": d}))
    return head


__all__ = ["INFEASIBLE_CAUSES", "unstable_finding", "unstable_regions"]
