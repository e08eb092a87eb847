"""The ``dlpilot`` command: thin, it parses arguments and calls tools, the server or the runbook.

Exit status: 0 when no error-level finding, 1 when there is one, 2 when dlpilot could not do what
was asked (bad arguments, a project or script it could not read or run), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlpilot import __version__, _cli_trials
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
        help="allow this directory; repeatable (default: only the current directory)",
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
    c.add_argument(
        "--no-network",
        action="store_true",
        help="refuse the script's connections to other machines (no downloads, no uploads)",
    )
    c.add_argument("--plot", type=Path, default=None, help="write the overfit loss curve as PNG")
    c.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable for the script (repeatable)",
    )
    c.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass a variable of this shell the sandbox drops by default (repeatable)",
    )
    entry = c.add_mutually_exclusive_group()
    entry.add_argument(
        "--entry",
        dest="entry",
        action="store_true",
        default=None,
        help="require the [tool.dlpilot] entry-point checks",
    )
    entry.add_argument(
        "--no-entry",
        dest="entry",
        action="store_false",
        help="skip the entry-point checks even if the project has a table",
    )
    c.add_argument("cmd", nargs=argparse.REMAINDER, help="the training command, after --")

    n = sub.add_parser("init", help="draft the [tool.dlpilot] table of a project")
    n.add_argument("path", nargs="?", default=".", help="project directory (default: .)")
    n.add_argument("--write", action="store_true", help="write it (pyproject.toml or dlpilot.toml)")
    n.add_argument("--force", action="store_true", help="replace an existing table")

    lr = sub.add_parser("lr-range", help="LR range test through the [tool.dlpilot] factories")
    lr.add_argument("path", nargs="?", default=".", help="project directory (default: .)")
    lr.add_argument("--lr-min", type=float, default=1e-7)
    lr.add_argument("--lr-max", type=float, default=10.0)
    lr.add_argument("--steps", type=int, default=100)
    lr.add_argument("--json", action="store_true", help="print the result as JSON")
    lr.add_argument("--plot", type=Path, default=None, help="write the LR range curve as PNG")

    b = sub.add_parser("batch-size", help="find the largest batch size that fits (CUDA)")
    b.add_argument("path", nargs="?", default=".", help="project directory (default: .)")
    b.add_argument("--max", dest="max_batch_size", type=int, default=None)
    b.add_argument("--json", action="store_true", help="print the result as JSON")

    v = sub.add_parser("curves", help="read training curves and diagnose them")
    v.add_argument("path", help="a metrics file, a run directory or a directory of runs")
    v.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    v.add_argument("--plot", type=Path, default=None, help="write the curves as a PNG image")
    v.add_argument("--target-error", type=float, default=None, help="human-level/baseline error")
    _cli_trials.add_parser(sub)

    from dlpilot.rounds import add_parsers as add_runbook_parsers

    add_runbook_parsers(sub)  # runbook status|propose|answer|revise|history|evidence, round
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage and the reason on stderr
        given = list(sys.argv[1:] if argv is None else argv)
        if exc.code == EXIT_CANNOT_RUN and "--json" in given:
            error = "bad command-line arguments (the reason is on stderr)"
            print(json.dumps({"error": error, "exit_status": EXIT_CANNOT_RUN}))
        raise
    try:
        handler = {
            "serve": _serve,
            "inspect": _inspect,
            "check": _check,
            "curves": _curves,
            "init": _init,
            "lr-range": _lr_range,
            "batch-size": _batch_size,
            "trials": _cli_trials.main,
            "runbook": _runbook,
            "round": _round,
        }
        return handler[args.command](args)
    except (DlpilotError, OSError) as exc:
        # OSError: a file dlpilot was told to write or read (``--plot``, a path the OS refuses)
        message = _failure_message(exc)
        if getattr(args, "json", False):  # --json: one JSON object, whatever happened
            print(json.dumps({"error": message, "exit_status": EXIT_CANNOT_RUN}))
        print(f"dlpilot: {message}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("dlpilot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``dlpilot curves ... | head``): stop quietly, as a pipe stage
        # does; stdout is pointed at /dev/null so that the final flush cannot raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # SIGPIPE


def _failure_message(exc: DlpilotError | OSError) -> str:
    if isinstance(exc, DlpilotError):
        return str(exc)
    if isinstance(exc, OSError):
        name = exc.filename if isinstance(exc.filename, str) else None
        shown = repr(name if name is None or len(name) <= 200 else name[:197] + "...")
        return f"{exc.strerror or exc}" + (f": {shown}" if name is not None else "")
    return str(exc)


def _runbook(args: argparse.Namespace) -> int:
    from dlpilot.rounds import runbook_command

    return runbook_command(args)


def _round(args: argparse.Namespace) -> int:
    from dlpilot.rounds import round_command

    return round_command(args)


def _serve(args: argparse.Namespace) -> int:
    from dlpilot.sandbox import clean_dead_owners, install_shutdown_handler, stop_children
    from dlpilot.server import Roots, build_server

    roots = Roots(args.root or [Path.cwd()])  # --root: exactly those; the cwd only when none
    print(f"dlpilot: serving {', '.join(str(p) for p in roots.paths)}", file=sys.stderr)
    server = build_server(roots)
    host_port = None if args.http is None else _host_port(args.http)
    clean_dead_owners()  # what a killed dlpilot left behind: its probes, its temp directories
    install_shutdown_handler()  # SIGTERM stops the running checks' children, then exits
    try:
        if host_port is None:
            server.run()
        else:
            server.run("streamable-http", host=host_port[0], port=host_port[1])
    finally:
        stop_children()  # stdin closed or the loop ended: no child outlives the server
    return EXIT_OK


def _host_port(value: str) -> tuple[str, int]:
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise InvalidArgument(
            f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765"
        ) from None
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
    from dlpilot.sandbox import clean_dead_owners, install_shutdown_handler
    from dlpilot.tools.checks import check_project, render_check

    clean_dead_owners()
    install_shutdown_handler()  # SIGTERM: the probe and what it started stop with us
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    options: dict[str, Any] = {
        "overfit": not args.no_overfit,
        "entry": args.entry,
        "no_network": args.no_network,
    }
    for key in ("steps", "overfit_steps"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if args.timeout is not None:
        options["timeout_s"] = args.timeout
    if args.env or args.pass_env:
        from dlpilot.tools.checks import parse_env_options

        options["env"] = parse_env_options(args.env)
        options["pass_env"] = list(args.pass_env)
    cwd = (args.cwd or Path.cwd()).resolve()
    report = check_project(cmd or None, cwd=cwd, **options)
    if args.plot is not None and report.overfit is not None:
        from dlpilot.tools.checks import plot_overfit

        args.plot.write_bytes(plot_overfit(report.overfit))
    print(report.model_dump_json(indent=2) if args.json else render_check(report))
    if report.error is not None:
        print(f"dlpilot: {report.error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return _exit_for(report.findings)


def _init(args: argparse.Namespace) -> int:
    from dlpilot.tools.checks.entry import propose_entry_table, write_entry_table

    root = Path(args.path)
    if args.write:
        written = write_entry_table(root, force=args.force)
        print(f"wrote the [tool.dlpilot] table to {written}")
    else:
        print(propose_entry_table(root), end="")
    return EXIT_OK


def _lr_range(args: argparse.Namespace) -> int:
    from dlpilot.tools.checks.entry import lr_range_test, plot_lr_range, render_lr_range

    result = lr_range_test(
        Path(args.path), lr_min=args.lr_min, lr_max=args.lr_max, steps=args.steps
    )
    if args.plot is not None:
        args.plot.write_bytes(plot_lr_range(result))
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(render_lr_range(result), end="")
    return EXIT_OK


def _batch_size(args: argparse.Namespace) -> int:
    from dlpilot.tools.checks.entry import find_batch_size, render_batch_size

    options = {} if args.max_batch_size is None else {"max_batch_size": args.max_batch_size}
    result = find_batch_size(Path(args.path), **options)
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    print(render_batch_size(result), end="")
    return EXIT_OK


def _curves(args: argparse.Namespace) -> int:
    from dlpilot.tools.curves import diagnose_runs, read_runs, render_diagnosis

    runs = read_runs(Path(args.path))
    diagnosis = diagnose_runs(runs, target_error=args.target_error)
    if args.plot is not None:
        from dlpilot.tools.curves import plot_runs

        args.plot.write_bytes(plot_runs(runs))
    print(
        diagnosis.model_dump_json(indent=2) if args.json else render_diagnosis(args.path, diagnosis)
    )
    return _exit_for(diagnosis.findings)


if __name__ == "__main__":
    sys.exit(main())
