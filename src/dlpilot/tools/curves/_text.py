"""A curve diagnosis as text: what ``dlpilot curves`` prints and what ``diagnose_curves`` puts
beside its structured result."""

from __future__ import annotations

from dlpilot.findings import render_findings
from dlpilot.tools.curves._results import CurveDiagnosis


def render_diagnosis(path: str, d: CurveDiagnosis) -> str:
    """One run: its verdict, metrics, breakdown, findings and next actions. Several runs: their
    ranking first, then each run with its own verdict and findings."""
    multi = len(d.runs) > 1
    if not multi:
        lines = [f"dlpilot curves of {path}: 1 run, verdict: {d.verdict}"]
    else:
        lines = [f"dlpilot curves of {path}: {len(d.runs)} runs"]
        c = d.comparison
        if c is not None:
            order = "lowest" if c.goal == "min" else "highest"
            lines.append(f"ranked by their best {c.metric} ({order} first):")
            lines += [
                f"  {r.rank}. {r.run}: best {r.best_value:.4g} at step {r.best_step}, "
                f"last {r.last_value:.4g} at step {r.last_step}"
                for r in c.ranking
            ]
            if c.missing:
                lines.append(f"  not ranked (no finite {c.metric}): {', '.join(c.missing)}")
        lines.append(f"verdict of run {d.primary_run!r}: {d.verdict}")
    for run in d.runs:
        metrics = ", ".join(f"{m.name} ({m.points})" for m in run.summary.metrics)
        lines += ["", f"run {run.run} [{run.summary.format}]: {metrics}"]
        if multi:
            lines[-1] += f"; verdict: {run.verdict}"
        lines.append(f"    {run.breakdown.explanation}")
        lines += [f"    warning: {w}" for w in run.summary.warnings]
        if multi:
            lines += ["  " + ln if ln else ln for ln in render_findings(run.findings)]
    if d.missing:
        lines += ["", "missing for a full verdict: " + "; ".join(d.missing)]
    if not multi:
        lines += render_findings(d.findings)
    if d.next_actions:
        head = "Next actions" + (f" (run {d.primary_run!r})" if multi else "")
        lines += ["", head] + [f"  - {a}" for a in d.next_actions]
    return "\n".join(lines) + "\n"


__all__ = ["render_diagnosis"]
