"""Steps 8 and 9: after the trials, read the summary and the top trials' curves, then decide.

Step 8 (seed 001 §3.3): the boundary check of the best point, the curves of the top trials, the
bias / variance / mismatch diagnosis, error-analysis suggestions. Step 9 (§3.4): promote the best
configuration only when it beats the baseline by more than the seed-to-seed spread; the next
round's goal follows from the diagnosis (§4.1) or a boundary hit (§3.3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlpilot.errors import CurveReadError, InvalidArgument
from dlpilot.runbook._rules._evidence import curves_evidence, summary_of
from dlpilot.runbook._rules._propose import ACTIONS, Ctx, bottleneck_of
from dlpilot.runbook._rules._space import near_edge
from dlpilot.runbook._steps import RunbookError
from dlpilot.tools.trials import StudySummary

TOP_TRIALS = 3
"""Curves read at step 8: the best few trials (seed 001 §3.3, "training curves for top trials")."""

DIVERGENT_SHARE = 0.25
"""More than this share of oom / nonfinite trials is "many divergent points" (§3.3)."""

ERROR_ANALYSIS = {
    "classification": [
        "sample 100-200 dev errors of the best trial and tabulate them by true class and "
        "predicted class (the confusion pairs)",
        "mark label errors among them; if dev/test labels are noisy, clean those first (§4.2)",
        "group the rest by scenario (lighting, size, source) and fix the largest actionable group",
    ],
    "regression": [
        "plot dev residuals against the target and the main inputs; look for a range the model "
        "systematically misses",
        "inspect the 100-200 largest dev errors for label or unit errors (§4.2)",
    ],
    "detection": [
        "split dev errors into missed objects, false positives and poor localization, by class "
        "and object size",
        "check 100-200 dev errors for missing or wrong boxes in the labels (§4.2)",
    ],
    "sequence": [
        "sample 100-200 dev errors and group them by length, domain and error type",
        "check the references of the worst ones for label errors (§4.2)",
    ],
    "other": ["sample 100-200 dev errors, categorize them, fix the largest actionable category"],
}


def _summary(ctx: Ctx) -> tuple[StudySummary, str]:
    record = ctx.state.latest("trials")
    study = ctx.answer(7)["round"]["name"]
    if record is None or record.at < ctx.rnd.started:
        raise RunbookError(
            f"step {ctx.step.number} ({ctx.step.name}): no trials summary recorded for this round; "
            f"run the round file (dlpilot trials run) and record `dlpilot trials summary {study} "
            "--json` as evidence of kind 'trials'"
        )
    summary = summary_of(record)
    if summary.study != study:
        raise RunbookError(
            f"step {ctx.step.number}: the latest trials summary [{record.id}] is of study "
            f"{summary.study!r}, not this round's {study!r}"
        )
    return summary, record.id


def step8(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    summary, sid = _summary(ctx)
    used = [sid]
    params = ctx.answer(6)["params"]
    sign = 1.0 if summary.direction == "minimize" else -1.0
    answer: dict[str, Any] = {"study": summary.study, "boundary": [], "curves": [],
                              "numbers": {}, "error_analysis": []}  # fmt: skip
    why: list[str] = []
    if summary.best is None:
        answer["diagnosis"] = "insufficient data"
        answer["curves"] = [f"no trial finished with a value ({summary.counts})"]
        return answer, f"no finished trial in {summary.study} [{sid}]", used
    answer["best_value"] = summary.best.value
    answer["best_params"] = dict(summary.best.params)
    for name, value in summary.best.params.items():
        p = params.get(name)
        if not isinstance(p, dict) or "low" not in p or not isinstance(value, int | float):
            continue
        side = near_edge(float(value), float(p["low"]), float(p["high"]), bool(p.get("log")))
        if side is not None:
            answer["boundary"].append({"param": name, "side": side, "value": float(value)})
    if answer["boundary"]:
        hits = ", ".join(f"{h['param']} at its {h['side']} end ({h['value']:g})"
                         for h in answer["boundary"])  # fmt: skip
        why.append(f"the best point sits on the boundary: {hits} -> expand the range (§3.3)")
    else:
        why.append("the best point is inside every range (§3.3 boundary check)")
    failed = [t for t in summary.trials if t.exit_cause in ("oom", "nonfinite")]
    done = [t for t in summary.trials if t.state in ("complete", "pruned", "failed")]
    if done and len(failed) / len(done) > DIVERGENT_SHARE:
        answer["curves"].append(
            f"{len(failed)} of {len(done)} trials diverged or ran out of memory: check stability "
            "and the upper bounds (§3.3)"
        )
    finished = [
        t for t in summary.trials if t.state == "complete" and t.value is not None and t.dir
    ]
    top = sorted(finished, key=lambda t: sign * float(t.value or 0.0))[:TOP_TRIALS]
    best_diag = None
    notes: list[str] = []
    for trial in reversed(top):  # the best is recorded last: the next round's step 4 reads it
        try:
            record = curves_evidence(
                ctx.state, Path(str(trial.dir)), seconds=trial.seconds,
                source=f"trial {trial.number} of {summary.study} ({trial.dir})",
            )  # fmt: skip
        except (CurveReadError, InvalidArgument) as exc:
            notes.append(f"trial {trial.number}: curves unreadable ({exc})")
            continue
        used.append(record.id)
        from dlpilot.runbook._rules._evidence import diagnosis_of

        diag = diagnosis_of(record)
        if diag is None:
            continue
        best_diag = diag
        ids = ", ".join(sorted(diag.ids)) or "no curve findings"
        notes.append(f"trial {trial.number} (value {trial.value:.4g}): verdict "
                     f"{diag.verdict}; {ids} [{record.id}]")  # fmt: skip
    answer["curves"] += list(reversed(notes))
    if best_diag is not None:
        try:
            bottleneck, numbers, text = bottleneck_of(best_diag)
            answer["diagnosis"] = bottleneck
            answer["numbers"] = numbers
            why.append(f"best trial's curves: {text}")
        except RunbookError as exc:
            answer["diagnosis"] = "insufficient data"
            why.append(str(exc))
    else:
        answer["diagnosis"] = "insufficient data"
        why.append("no curves of the top trials could be read")
    task = ctx.answer(1)["task_type"]
    answer["error_analysis"] = ERROR_ANALYSIS.get(task, ERROR_ANALYSIS["other"])
    return answer, "; ".join(why) + f" [{', '.join(used)}] (seed 001 §3.3)", used


def step9(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    summary, sid = _summary(ctx)
    analysis = ctx.answer(8)
    sign = -1.0 if summary.direction == "minimize" else 1.0
    base_value = summary.baseline.value if summary.baseline is not None else None
    if base_value is None:
        value = ctx.answer(3).get("value")
        base_value = float(value) if isinstance(value, int | float) else None
    spread = summary.answer.seed_spread if summary.answer is not None else None
    best = summary.best
    improvement = (
        sign * (best.value - base_value) if best is not None and base_value is not None else None
    )
    promote = False
    if best is None:
        reason = "no trial finished: keep the baseline"
    elif improvement is None:
        reason = "the baseline has no score in this round to compare with: keep it (§3.4)"
    elif spread is None:
        reason = (
            f"improvement {improvement:+.4g} over the baseline, but no seed spread was measured: "
            "re-run the best and the baseline with several seeds before promoting (§3.4)"
        )
    elif improvement > spread:
        promote = True
        reason = (
            f"best {best.value:.4g} vs baseline {base_value:.4g}: improvement {improvement:+.4g} "
            f"exceeds the seed spread {spread:.4g} (§3.4): promote"
        )
    else:
        reason = (
            f"best {best.value:.4g} vs baseline {base_value:.4g}: improvement {improvement:+.4g} "
            f"does not exceed the seed spread {spread:.4g}: keep the baseline, record the "
            "configuration as interesting but not adopted (§3.4)"
        )
    diagnosis = str(analysis.get("diagnosis"))
    boundary = analysis.get("boundary") or []
    if boundary:
        names = ", ".join(f"{h['param']} ({h['side']})" for h in boundary)
        next_goal = f"Expand the search range of {names} and re-run the question (§3.3)"
    elif diagnosis in ACTIONS:
        next_goal = f"Reduce {diagnosis}: {ACTIONS[diagnosis][0]} (§4.1)"
    else:
        next_goal = "Gather curves with train and dev metrics, then diagnose again (§3.3)"
    answer: dict[str, Any] = {
        "promote": promote,
        "reason": reason,
        "improvement": improvement,
        "seed_spread": spread,
        "next_goal": next_goal,
        "next_bottleneck": diagnosis if diagnosis in ACTIONS else None,
    }
    if promote and best is not None:
        answer["new_baseline"] = dict(best.params)
    return answer, f"{reason} [{sid}]; next: {next_goal}", [sid]


__all__ = ["step8", "step9"]
