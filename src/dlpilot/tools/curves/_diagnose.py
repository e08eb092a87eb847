"""Diagnose runs from their curves: every curve rule, the error breakdown and a verdict.

``diagnose_runs`` applies the rules of ``rules`` and the bias / variance / mismatch breakdown of
``_breakdown`` to each run, and names a primary run (the best one on the dev metric, or the only
one) whose verdict becomes the diagnosis' verdict. A run that diverged, went non-finite or blew up
early gets the verdict "instability" whatever its gaps say: bias and variance of a broken run mean
nothing, and the seed's stability gate (section 5.2) comes before tuning for them.
"""

from __future__ import annotations

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding, merge_findings
from dlpilot.tools._contract import only_declared
from dlpilot.tools.curves._breakdown import (
    NEXT_ACTIONS,
    Verdict,
    _check_goal,
    breakdown_findings,
    error_breakdown,
)
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves._results import CurveDiagnosis, RunComparison, RunDiagnosis
from dlpilot.tools.curves._signal import Goal
from dlpilot.tools.curves._summary import compare_runs, summarize_run
from dlpilot.tools.curves.rules import (
    RUN_RULES,
    goal_series,
    rule_class_prior,
    rule_training_length,
    rule_unstable,
)

# Findings of a run that blew up: its verdict is "instability" and its gaps are not judged.
INSTABILITY_IDS = frozenset({"curve.diverged", "loss.nonfinite", "lr.too-high"})
# Findings of a run that trains unstably without blowing up: its verdict is "instability" too
# (seed 001 section 5.2: stabilize before tuning), its gaps are still reported.
UNSTABLE_IDS = frozenset({"curve.unstable", "curve.train-loss-increasing"})
# Findings after which curve.saturated / curve.still-improving are not judged: the best point of a
# diverging or rising loss is early because the run broke, not because it trained too long.
BROKEN_IDS = frozenset({"curve.diverged", "lr.too-high", "curve.train-loss-increasing"})

RULES = (*RUN_RULES, rule_unstable, rule_class_prior, rule_training_length, breakdown_findings)
"""Every curve rule, each declaring its ids (``dlpilot.tools._contract``); ``diagnose_run`` runs
them in its own order, as some depend on what others found."""


def diagnose_run(
    run: Run,
    *,
    target_error: float | None = None,
    metric: str | None = None,
    goal: Goal | None = None,
) -> RunDiagnosis:
    found: list[Finding] = []
    for rule in (*RUN_RULES, rule_unstable):
        found.extend(only_declared(rule, rule(run)))
    if "curve.high-bias" not in {f.id for f in found}:
        prior = list(only_declared(rule_class_prior, rule_class_prior(run)))
        if prior:
            # at the class prior, validation "better" than training is the two splits' class
            # mix, and flat curves are not a run that trained too long (below)
            found = [f for f in found if f.id != "curve.val-better-than-train"]
            found.extend(prior)
    ids = {f.id for f in found}
    if not ids & BROKEN_IDS:  # where the best point lies says nothing about a broken run
        length = list(only_declared(rule_training_length, rule_training_length(run, metric, goal)))
        if ids & {"curve.overfitting", "curve.high-bias"}:
            # overfitting names the early best point and what to do already; a run at chance
            # or at the class prior never learned, it did not train too long
            length = [f for f in length if f.id != "curve.saturated"]
        found.extend(length)
    if "curve.diverged" in ids:  # the stronger finding says it already
        found = [f for f in found if f.id != "curve.train-loss-increasing"]
    b = error_breakdown(run, target_error=target_error, metric=metric, goal=goal)
    broken = bool(ids & INSTABILITY_IDS)
    if not broken:  # the gaps of a run that blew up describe the blow-up, not the model
        found.extend(only_declared(breakdown_findings, breakdown_findings(b)))
    verdict: Verdict = b.verdict
    if broken or ids & UNSTABLE_IDS:
        verdict = "instability"
    elif "curve.high-bias" in ids:  # at chance level: no target error needed to say so
        verdict = "high bias"
    return RunDiagnosis(
        run=run.name,
        summary=summarize_run(run),
        findings=merge_findings(found),
        breakdown=b,
        verdict=verdict,
        next_actions=NEXT_ACTIONS[verdict],
    )


def _primary(
    runs: list[Run], metric: str | None, goal: Goal | None
) -> tuple[str, RunComparison | None]:
    """The run the verdict is about (the best on the dev metric) and the ranking it came from."""
    if len(runs) == 1:
        return runs[0].name, None
    picked = next((p for r in runs if (p := goal_series(r, metric, goal)) is not None), None)
    if picked is not None:
        s, g = picked
        comparison = compare_runs(runs, s.name, g)
        if comparison.ranking:
            return comparison.ranking[0].run, comparison
    return runs[0].name, None


def diagnose_runs(
    runs: list[Run],
    *,
    target_error: float | None = None,
    metric: str | None = None,
    goal: Goal | None = None,
) -> CurveDiagnosis:
    """Run every curve rule on every run and diagnose bias / variance / mismatch.

    ``target_error``: human-level or baseline error in the units of the error (a fraction when
    errors come from accuracy), needed for avoidable bias. ``metric``: the quantity to judge
    (``"acc"``, ``"loss"``, ``"f1"`` or a full name like ``"val/f1"``); by default accuracy when
    logged, else loss. ``goal``: whether the metric is minimized or maximized (inferred from the
    name when None).
    """
    if not runs:
        raise InvalidArgument("diagnose_runs needs at least one run, got an empty list")
    goal = _check_goal(goal)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise InvalidArgument(f"run names must be unique to tell runs apart, got {names}")
    per_run = [diagnose_run(r, target_error=target_error, metric=metric, goal=goal) for r in runs]
    primary, comparison = _primary(runs, metric, goal)
    head = next(d for d in per_run if d.run == primary)
    return CurveDiagnosis(
        primary_run=primary,
        verdict=head.verdict,
        missing=head.breakdown.missing,
        next_actions=head.next_actions,
        findings=merge_findings(f for d in per_run for f in d.findings),
        runs=per_run,
        comparison=comparison,
    )


__all__ = [
    "INSTABILITY_IDS",
    "RULES",
    "CurveDiagnosis",
    "RunDiagnosis",
    "diagnose_run",
    "diagnose_runs",
]
