"""The outputs of a round: ``summary.json`` (the round in one object), ``report.md`` (the diagnosis
with its evidence and a plot, the decision, the next goal) and a copy of the round file.

The data (:func:`round_summary`) is computed apart from the text (:func:`render_report`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from dlpilot.errors import DlpilotError
from dlpilot.rounds._drive import RoundOutcome
from dlpilot.runbook import Runbook
from dlpilot.runbook._state import RoundState, RunbookState
from dlpilot.runbook._store import write_atomic


class Decision(BaseModel):
    promote: bool | None = None
    reason: str = ""


class RoundSummary(BaseModel):
    """``summary.json``."""

    round: int
    agent: str = ""
    bottleneck: str | None = None
    main_goal: str | None = None
    round_file: str | None = None
    best: dict[str, Any] | None = None
    decision: Decision = Field(default_factory=Decision)
    next_goal: str | None = None
    findings: list[dict[str, Any]] = Field(default_factory=list)
    stopped_at: int | None = None
    stop_reason: str = ""
    notes: list[str] = Field(default_factory=list)
    agent_usage: dict[str, Any] | None = Field(
        default=None, description="the language model's turns, token usage and estimated cost"
    )


def _answer(rnd: RoundState, n: int) -> dict[str, Any]:
    record = rnd.answers.get(n)
    return dict(record.answer) if record is not None else {}


def round_summary(state: RunbookState, number: int, outcome: RoundOutcome) -> RoundSummary:
    rnd = next(r for r in state.rounds if r.number == number)
    bottleneck, goal = _answer(rnd, 4), _answer(rnd, 5)
    analysis, decision = _answer(rnd, 8), _answer(rnd, 9)
    summary = RoundSummary(
        round=number,
        agent=outcome.agent,
        bottleneck=bottleneck.get("bottleneck"),
        main_goal=goal.get("question"),
        round_file=outcome.round_file
        or (rnd.round_file and str(Path(state.project) / rnd.round_file)),
        stopped_at=outcome.stopped_at,
        stop_reason=outcome.reason,
        notes=outcome.notes,
        agent_usage=outcome.agent_usage,
    )
    if analysis.get("best_value") is not None:
        summary.best = {"value": analysis["best_value"], "params": analysis.get("best_params", {})}
    if decision:
        summary.decision = Decision(promote=decision["promote"], reason=decision["reason"])
        summary.next_goal = decision["next_goal"]
    elif bottleneck.get("bottleneck") == "bugs":
        summary.decision = Decision(
            promote=False, reason=f"the bottleneck is bugs: {bottleneck['explanation']}"
        )
        summary.next_goal = goal.get("question") or "fix the error-level findings"
    else:
        summary.decision = Decision(promote=None, reason=outcome.reason or "no decision yet")
    for kind in ("inspection", "check"):
        record = next(
            (e for e in reversed(state.evidence) if e.kind == kind and e.at >= rnd.started), None
        )
        for f in (record.data.get("findings") or []) if record else []:  # type: ignore[union-attr]
            if isinstance(f, dict) and f.get("severity") in ("error", "warning"):
                summary.findings.append({"id": f.get("id"), "severity": f.get("severity"),
                                         "message": f.get("message"), "from": kind})  # fmt: skip
    return summary


def render_report(state: RunbookState, summary: RoundSummary, plot: str | None) -> str:
    rnd = next(r for r in state.rounds if r.number == summary.round)
    lines = [f"# dlpilot round {summary.round}: {Path(state.project).name}", ""]
    lines += [f"Agent: {summary.agent}. Procedure: seed 001 section 7 (nine steps).", ""]
    task, metric = _answer(rnd, 1), _answer(rnd, 2)
    if task:
        lines += [f"**Task**: {task['task_type']}: {task['business_goal']}"]
    if metric:
        lines += [f"**Metric**: {metric['metric']} ({metric['direction']})", ""]
    b = _answer(rnd, 4)
    if b:
        lines += [
            "## Diagnosis (step 4)",
            "",
            f"**Bottleneck: {b['bottleneck']}**. {b['explanation']}",
            "",
        ]
        if b.get("numbers"):
            lines += ["| quantity | value |", "|---|---|"]
            lines += [f"| {k} | {v:.4g} |" for k, v in b["numbers"].items()]
            lines += [""]
        lines += [_why(rnd, 4), ""]
    g = _answer(rnd, 5)
    if g:
        lines += ["## Main goal (step 5)", "", g["question"], ""]
    s = _answer(rnd, 6)
    if s:
        lines += ["## Study (step 6)", "", "| parameter | role | space |", "|---|---|---|"]
        for name, p in s["params"].items():
            space = (f"{p['low']} .. {p['high']}{' (log)' if p.get('log') else ''}"
                     if "low" in p else p.get("choices") or p.get("value"))  # fmt: skip
            lines.append(f"| {name} | {p['role']} | {space} |")
        lines += ["", f"Sampler {s['sampler']}, {s['trials']} trials.", _why(rnd, 6), ""]
    if summary.round_file:
        lines += [f"Round file: `{summary.round_file}`", ""]
    a = _answer(rnd, 8)
    if a:
        lines += ["## Results (step 8)", ""]
        if a.get("best_value") is not None:
            lines += [f"Best {a['best_value']:.4g} with {json.dumps(a.get('best_params', {}))}", ""]
        for hit in a.get("boundary") or []:
            lines.append(f"- boundary: {hit['param']} at its {hit['side']} end ({hit['value']:g})")
        lines += [f"- {c}" for c in a.get("curves") or []]
        lines += ["", f"**Diagnosis: {a['diagnosis']}**", ""]
        if a.get("error_analysis"):
            lines += ["Error analysis:", *[f"- {e}" for e in a["error_analysis"]], ""]
    if plot:
        lines += [f"![curves]({plot})", ""]
    lines += ["## Decision (step 9)", ""]
    d = summary.decision
    verdict = {True: "promote the new baseline", False: "keep the baseline", None: "not decided"}
    lines += [f"**{verdict[d.promote]}**: {d.reason}", ""]
    if summary.next_goal:
        lines += [f"**Next goal**: {summary.next_goal}", ""]
    if summary.findings:
        lines += ["## Findings", ""]
        lines += [f"- {f['severity']} {f['id']}: {f['message']}" for f in summary.findings[:30]]
        lines += [""]
    if summary.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in summary.notes], ""]
    lines += ["## Evidence", ""]
    lines += [f"- {e.id} {e.kind}: {e.source} ({e.summary})" for e in state.evidence][-20:]
    return "\n".join(lines) + "\n"


def _why(rnd: RoundState, n: int) -> str:
    record = rnd.answers.get(n)
    return f"_Why_: {record.why}" if record is not None and record.why else ""


def write_outputs(
    runbook: Runbook, outcome: RoundOutcome, out: Path | None
) -> tuple[Path, RoundSummary]:
    """Write summary.json, report.md (and curves.png, the round file) into ``out``."""
    state = runbook.state()
    out_dir = out if out is not None else runbook.round_dir(outcome.round)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = round_summary(state, outcome.round, outcome)
    if summary.round_file and Path(summary.round_file).is_file():
        target = out_dir / Path(summary.round_file).name
        if target.resolve() != Path(summary.round_file).resolve():
            shutil.copyfile(summary.round_file, target)
    plot = _plot(state, outcome.round, out_dir)
    write_atomic(out_dir / "summary.json", summary.model_dump_json(indent=1) + "\n")
    write_atomic(out_dir / "report.md", render_report(state, summary, plot))
    return out_dir, summary


def _plot(state: RunbookState, number: int, out_dir: Path) -> str | None:
    """The curves behind this round's diagnosis, as curves.png (None when there are none)."""
    rnd = next(r for r in state.rounds if r.number == number)
    records = [e for e in state.evidence if e.kind == "curves" and e.at >= rnd.started]
    if not records:
        records = [e for e in state.evidence if e.kind == "curves"][-1:]
    if not records:
        return None
    path = records[-1].data.get("path")
    try:
        from dlpilot.tools.curves import plot_runs, read_runs

        png = plot_runs(read_runs(str(path)))
    except (DlpilotError, OSError, ValueError):
        return None
    (out_dir / "curves.png").write_bytes(png)
    return "curves.png"


__all__ = ["Decision", "RoundSummary", "render_report", "round_summary", "write_outputs"]
