"""The ``dlpilot`` command: thin, it parses arguments and calls tools, the server or the runbook.

Exit status: 0 when no error-level finding, 1 when there is one, 2 when dlpilot could not do what
was asked (bad arguments, a project or script it could not read or run), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlpilot import __version__
from dlpilot.errors import DlpilotError, InvalidArgument

EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dlpilot",
        description="Find what is wrong with a PyTorch project's training; help it train better.",
    )
    p.add_argument("--version", action="version", version=f"dlpilot {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    s.add_argument("--http", metavar="HOST:PORT", help="serve streamable HTTP instead of stdio")
    s.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="also allow this directory (default: only the current directory); repeatable",
    )

    i = sub.add_parser("inspect", help="statically inspect a project (runs no code)")
    i.add_argument("path", nargs="?", default=".", help="project directory (default: .)")
    fmt = i.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the report as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print seed 000's gap report")

    c = sub.add_parser(
        "check",
        help="run a training script under the probe: runtime checks and the overfit test",
        usage="dlpilot check [options] -- python train.py [args ...]",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--steps", type=int, default=None, help="training batches per epoch to observe")
    c.add_argument("--no-overfit", action="store_true", help="skip the single-batch overfit test")
    c.add_argument("--overfit-steps", type=int, default=None, help="steps of the overfit test")
    c.add_argument("--timeout", type=float, default=None, help="wall-clock limit in seconds")
    c.add_argument("--cwd", type=Path, default=None, help="directory to run in (default: .)")
    c.add_argument("--plot", type=Path, default=None, help="write the overfit loss curve as PNG")
    c.add_argument("cmd", nargs=argparse.REMAINDER, help="the training command, after --")

    v = sub.add_parser("curves", help="read training curves and diagnose them")
    v.add_argument("path", help="a metrics file, a run directory or a directory of runs")
    v.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    v.add_argument("--plot", type=Path, default=None, help="write the curves as a PNG image")
    v.add_argument("--target-error", type=float, default=None, help="human-level/baseline error")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = {"serve": _serve, "inspect": _inspect, "check": _check, "curves": _curves}
        return handler[args.command](args)
    except DlpilotError as exc:
        print(f"dlpilot: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("dlpilot: interrupted", file=sys.stderr)
        return 130


def _serve(args: argparse.Namespace) -> int:
    from dlpilot.server import build_server

    server = build_server([Path.cwd(), *args.root])
    if args.http is None:
        server.run()
        return EXIT_OK
    host, port = _host_port(args.http)
    server.run("streamable-http", host=host, port=port)
    return EXIT_OK


def _host_port(value: str) -> tuple[str, int]:
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise InvalidArgument(f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765") from None
    if not 0 < port < 65536:
        raise InvalidArgument(f"--http {value!r}: port must be between 1 and 65535")
    return host, port


def _exit_for(findings: list[Any]) -> int:
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


def _inspect(args: argparse.Namespace) -> int:
    from dlpilot.tools.inspect import inspect_repo, render_text

    report = inspect_repo(Path(args.path))
    if args.json:
        print(report.model_dump_json(indent=2))
    elif args.markdown:
        from dlpilot.tools.inspect.gap import gap_report_markdown

        print(gap_report_markdown(report))
    else:
        print(render_text(report))
    return _exit_for(report.findings)


def _check(args: argparse.Namespace) -> int:
    from dlpilot.tools.checks import check_script, render_text

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise InvalidArgument("no training command given: use dlpilot check -- python train.py ...")
    options: dict[str, Any] = {"cwd": (args.cwd or Path.cwd()).resolve(), "overfit": not args.no_overfit}
    if args.steps is not None:
        options["steps"] = args.steps
    if args.overfit_steps is not None:
        options["overfit_steps"] = args.overfit_steps
    if args.timeout is not None:
        options["timeout_s"] = args.timeout
    report = check_script(cmd, **options)
    if args.plot is not None and report.overfit is not None:
        from dlpilot.tools.checks import plot_overfit

        args.plot.write_bytes(plot_overfit(report.overfit))
    print(report.model_dump_json(indent=2) if args.json else render_text(report))
    return _exit_for(report.findings)


def _curves(args: argparse.Namespace) -> int:
    from dlpilot.tools.curves import diagnose_runs, read_runs

    runs = read_runs(Path(args.path))
    diagnosis = diagnose_runs(runs, target_error=args.target_error)
    if args.plot is not None:
        from dlpilot.tools.curves import plot_runs

        args.plot.write_bytes(plot_runs(runs))
    print(diagnosis.model_dump_json(indent=2) if args.json else _curves_text(args.path, diagnosis))
    return _exit_for(diagnosis.findings)


def _curves_text(path: str, d: Any) -> str:
    from dlpilot.findings import render_findings

    lines = [f"dlpilot curves of {path}: {len(d.runs)} run(s), verdict: {d.verdict}"]
    for run in d.runs:
        metrics = ", ".join(f"{m.name} ({m.points})" for m in run.summary.metrics)
        lines.append(f"  {run.run} [{run.summary.format}]: {metrics}")
        lines.append(f"      {run.breakdown.explanation}")
        lines += [f"      warning: {w}" for w in run.summary.warnings]
    if d.missing:
        lines.append("missing for a full verdict: " + "; ".join(d.missing))
    lines += render_findings(d.findings)
    if d.next_actions:
        lines += ["", "Next actions"] + [f"  - {a}" for a in d.next_actions]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
