"""The ``dlpilot runbook ...`` and ``dlpilot round`` commands (registered by ``dlpilot.cli``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dlpilot.errors import InvalidArgument

EXIT_OK, EXIT_FINDINGS = 0, 1


def add_parsers(sub: Any) -> None:
    """Add ``runbook`` (with its subcommands) and ``round`` to the top-level subparsers."""
    r = sub.add_parser("runbook", help="the nine-step optimization runbook (seed 001 section 7)")
    rsub = r.add_subparsers(dest="runbook_command", required=True, metavar="ACTION")

    def project(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project", type=Path, default=Path("."), help="project directory")

    s = rsub.add_parser("status", help="round, step, its question, the evidence, what is missing")
    project(s)
    s.add_argument("--json", action="store_true")
    p = rsub.add_parser("propose", help="the rules' answer for the current step, with why")
    project(p)
    p.add_argument("--step", default=None, help="a step number or name (default: the current)")
    p.add_argument("--json", action="store_true")
    a = rsub.add_parser("answer", help="answer the current step")
    project(a)
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", type=Path, help="a JSON file with the step's answer")
    src.add_argument("--accept", action="store_true", help="take the rules' proposal")
    a.add_argument("--step", default=None, help="the step answered (default: the current)")
    a.add_argument("--json", action="store_true")
    v = rsub.add_parser("revise", help="reopen a step and the steps that depend on it")
    project(v)
    v.add_argument("step", help="a step number or name")
    h = rsub.add_parser("history", help="every round: answers, baselines, decisions")
    project(h)
    h.add_argument("--json", action="store_true")
    e = rsub.add_parser("evidence", help="record a tool's JSON result as evidence")
    project(e)
    e.add_argument("--kind", required=True,
                   choices=["project", "inspection", "check", "curves", "trials", "lr-range",
                            "note"])  # fmt: skip
    e.add_argument("--file", type=Path, required=True, help="the result as JSON")
    e.add_argument("--source", default=None, help="where it came from (default: the file)")

    o = sub.add_parser("round", help="walk one optimization round headless (steps 1-7, 8-9)")
    o.add_argument("path", nargs="?", type=Path, default=Path("."), help="project directory")
    o.add_argument("--agent", choices=["rules", "claude", "auto"], default="auto")
    o.add_argument("--launch", action="store_true", help="run the trials, then steps 8 and 9")
    o.add_argument("--trials", type=int, default=None, help="cap the round's trial budget")
    o.add_argument("--out", type=Path, default=None, help="where report.md and summary.json go")
    o.add_argument(
        "--dry-run",
        action="store_true",
        help="run nothing: synthetic check, baseline and trial curves (to try the procedure)",
    )
    o.add_argument("--json", action="store_true", help="print summary.json")


def runbook_command(args: argparse.Namespace) -> int:
    from dlpilot.runbook import Runbook

    rb = Runbook(args.project)
    action = args.runbook_command
    if action == "status":
        status = rb.status()
        print(status.model_dump_json(indent=1) if args.json else _status_text(status))
    elif action == "propose":
        proposal = rb.propose(args.step)
        if args.json:
            print(proposal.model_dump_json(indent=1))
        else:
            print(f"step {proposal.step} ({proposal.name}), proposed by the rules:")
            print(json.dumps(proposal.answer, indent=1))
            print(f"why: {proposal.why}")
    elif action == "answer":
        step = args.step if args.step is not None else rb.status().step
        if step is None:
            raise InvalidArgument("no step is open to answer")
        if args.accept:
            proposal = rb.propose(step)
            result = rb.answer(step, proposal.answer, by="rules", why=proposal.why,
                               evidence=proposal.evidence)  # fmt: skip
        else:
            result = rb.answer(step, _read_json(args.file), by="person")
        print(result.model_dump_json(indent=1) if args.json else result.message)
    elif action == "revise":
        print(rb.revise(args.step).message)
    elif action == "history":
        history = rb.history()
        print(history.model_dump_json(indent=1) if args.json else _history_text(history))
    elif action == "evidence":
        data = _read_json(args.file)
        if not isinstance(data, dict):
            raise InvalidArgument(f"{args.file}: evidence must be a JSON object")
        record = rb.add_evidence(args.kind, args.source or str(args.file), data)
        print(f"recorded {record.id} ({record.kind}) from {record.source}")
    return EXIT_OK


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read JSON from {str(path)!r}: {exc}") from exc


def _status_text(status: Any) -> str:
    lines = [f"round {status.round} ({status.rounds_closed} closed) of {status.project}"]
    if status.step is not None:
        lines.append(f"step {status.step} ({status.name}, seed {status.seed}): {status.question}")
    if status.blocked:
        lines.append(f"blocked: {status.blocked}")
    for view in status.steps:
        mark = {"answered": "x", "open": ">", "waiting": " "}[view.state]
        lines.append(
            f"  [{mark}] {view.step} {view.title}" + (f": {view.summary}" if view.summary else "")
        )
    if status.evidence:
        lines.append("evidence:")
        lines += [f"  {e.id} {e.kind}: {e.source} ({e.summary})" for e in status.evidence]
    if status.missing:
        lines.append("missing: " + "; ".join(status.missing))
    return "\n".join(lines)


def _history_text(history: Any) -> str:
    lines = []
    for r in history.rounds:
        state = f"closed {r.closed}" if r.closed else "open"
        lines.append(f"round {r.number} (started {r.started}, {state})")
        for n, answer in r.answers.items():
            lines.append(f"  step {n}: {json.dumps(answer)[:110]}")
        if r.decision:
            lines.append(
                f"  decision: promote={r.decision.get('promote')}: {r.decision.get('reason')}"
            )
    return "\n".join(lines)


def round_command(args: argparse.Namespace) -> int:
    from dlpilot.rounds._drive import build_agent, walk_round
    from dlpilot.rounds._launcher import FakeLauncher, Launcher, ProcessLauncher
    from dlpilot.rounds._report import write_outputs
    from dlpilot.runbook import Runbook

    project = args.path.resolve()
    if not project.is_dir():
        raise InvalidArgument(f"project {str(args.path)!r} is not a directory")
    agent, line = build_agent(args.agent)
    print(line, file=sys.stderr)
    launcher: Launcher = FakeLauncher() if args.dry_run else ProcessLauncher(project)
    outcome = walk_round(
        project, agent=agent, launcher=launcher, launch=args.launch, trials_cap=args.trials
    )
    out_dir, summary = write_outputs(Runbook(project), outcome, args.out)
    if args.json:
        print(summary.model_dump_json(indent=1))
    else:
        print(f"round {summary.round}: bottleneck {summary.bottleneck}; goal: {summary.main_goal}")
        if summary.round_file:
            print(f"round file: {summary.round_file}")
        print(f"decision: {summary.decision.reason}")
        if summary.next_goal:
            print(f"next goal: {summary.next_goal}")
        if outcome.stopped_at is not None:
            print(f"stopped at step {outcome.stopped_at}: {outcome.reason}")
        print(f"report: {out_dir / 'report.md'}")
    return EXIT_FINDINGS if summary.bottleneck == "bugs" else EXIT_OK


__all__ = ["add_parsers", "round_command", "runbook_command"]
