"""A round's results as text: the live progress, the studies' status, a study's ranked summary
(what ``dlpilot trials`` prints; one renderer per result)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpilot.tools.trials._control import StudyStatus
from dlpilot.tools.trials._results import StudySummary

if TYPE_CHECKING:
    from dlpilot.tools.trials._runner import Progress

SUMMARY_ROWS = 20
"""Trials listed in a summary; the JSON output has them all."""


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_progress(progress: Progress) -> str:
    """Counts and best so far, then a line per running trial with its slot, step and params."""
    best = (
        f"best {progress.best_value:.6g} (#{progress.best_number})"
        if progress.best_value is not None
        else "best -"
    )
    lines = [
        f"[{progress.study}] done {progress.done}  pruned {progress.pruned}  "
        f"failed {progress.failed}  of {progress.target}  {best}"
    ]
    for r in progress.running:
        params = " ".join(f"{k}={_short(v)}" for k, v in r.params.items())
        step = f"step {r.last_step}" if r.last_step is not None else "starting"
        lines.append(f"  #{r.number} {r.slot} {step}  {params}")
    return "\n".join(lines)


def render_summary(summary: StudySummary, limit: int = SUMMARY_ROWS) -> str:
    """The study's trials ranked (best first, unscored last), its best point, its findings."""
    data = summary.model_dump(mode="json")
    sign = 1.0 if data["direction"] == "minimize" else -1.0
    trials = data["trials"]
    scored = sorted(
        (t for t in trials if t["value"] is not None),
        key=lambda t: (t["state"] != "complete", sign * t["value"]),
    )
    rest = [t for t in trials if t["value"] is None]
    lines = [f"study {data['study']}: {data['metric']} ({data['direction']})"]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(data["counts"].items()))
    lines.append(f"trials: {counts or 'none'}")
    lines.append(f"{'#':>5}  {'state':9} {'value':>12}  {'step':>6}  {'cause':11} params")
    for t in (scored + rest)[:limit]:
        value = f"{t['value']:.6g}" if t["value"] is not None else "-"
        step = t["last_step"] if t["last_step"] is not None else "-"
        params = " ".join(f"{k}={_short(v)}" for k, v in t["params"].items())
        lines.append(
            f"{t['number']:>5}  {t['state']:9} {value:>12}  {step!s:>6}  "
            f"{t['exit_cause'] or '-':11} {params}"
        )
    if len(trials) > limit:
        lines.append(f"... {len(trials) - limit} more (--json for all)")
    if data.get("best"):
        b = data["best"]
        lines.append(f"best: #{b['number']} {b['value']:.6g} {b['params']}")
    for f in data.get("findings") or []:
        lines.append(f"{f['severity']}: {f['id']}: {f['message']}")
    return "\n".join(lines)


def render_status(statuses: Sequence[StudyStatus], project: Path) -> str:
    """One line per study: who runs it, its trials by state against the budget, the best."""
    if not statuses:
        return f"no studies under {project.resolve() / '.dlpilot' / 'trials'}"
    lines = []
    for s in statuses:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(s.counts.items())) or "no trials"
        best = f", best {s.best_value:.6g} (#{s.best_trial})" if s.best_value is not None else ""
        who = f"running ({', '.join(s.runners)})" if s.active else "idle"
        lines.append(f"{s.study}: {who}; {counts} of {s.trials}{best}; storage {s.storage}")
    return "\n".join(lines)


__all__ = ["SUMMARY_ROWS", "render_progress", "render_status", "render_summary"]
