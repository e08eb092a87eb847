"""``dlpilot trials ...``: run a round (here or detached), add a worker, see status, summary,
plots, stop. Registered by :mod:`dlpilot.cli`; exit statuses as the rest of the CLI (0 done, 1 the
round did not finish, 2 could not do what was asked)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_NOT_FINISHED, EXIT_CANNOT_RUN = 0, 1, 2
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""Stop the round (its running trials stopped, re-run by the next run), then exit 1."""


def add_parser(sub: Any) -> None:
    t = sub.add_parser("trials", help="tune the training command: rounds of trials, on every GPU")
    ts = t.add_subparsers(dest="trials_command", required=True, metavar="ACTION")
    r = ts.add_parser("run", help="run a round file on this machine (live progress)")
    r.add_argument("round_file", type=Path, help="the round (.toml, .yaml, .json, pyproject.toml)")
    r.add_argument("--detach", action="store_true", help="run in the background and return")
    r.add_argument("--storage", default=None, help="a database URL (overrides the round's)")
    w = ts.add_parser("worker", help="pull trials of a round's study from a shared database")
    w.add_argument("round_file", type=Path)
    w.add_argument("--storage", required=True, help="the database URL the study lives in")
    s = ts.add_parser("status", help="where each study of the project stands")
    s.add_argument("name", nargs="?", default=None, help="one study (default: all)")
    s.add_argument("--dir", type=Path, default=Path("."), help="the project (default: .)")
    s.add_argument("--json", action="store_true")
    m = ts.add_parser("summary", help="a study's trials ranked, its best point, its findings")
    m.add_argument("name")
    m.add_argument("--dir", type=Path, default=Path("."), help="the project (default: .)")
    m.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p = ts.add_parser("plot", help="write a study's plots as PNG files")
    p.add_argument("name")
    p.add_argument("--out", type=Path, required=True, help="directory for the PNG files")
    p.add_argument("--dir", type=Path, default=Path("."), help="the project (default: .)")
    x = ts.add_parser("stop", help="stop a study's runners (the next run continues it)")
    x.add_argument("name")
    x.add_argument("--dir", type=Path, default=Path("."), help="the project (default: .)")


def main(args: argparse.Namespace) -> int:
    handlers = {
        "run": _run,
        "worker": _run,
        "status": _status,
        "summary": _summary,
        "plot": _plot,
        "stop": _stop,
    }
    return handlers[args.trials_command](args)


def _run(args: argparse.Namespace) -> int:
    from dlpilot.tools.trials import load_round

    if getattr(args, "detach", False):
        from dlpilot.tools.trials import start_detached

        started = start_detached(args.round_file, storage=args.storage)
        print(f"study {started.study}: runner pid {started.pid}, log {started.log}")
        return EXIT_OK
    from dlpilot.tools.trials import Runner, render_summary

    round_ = load_round(args.round_file)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        display = _Display()
        summary = Runner(round_, storage=args.storage, stop=stop, on_progress=display).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(render_summary(summary))
    if stop.is_set():
        print(f"stopped; `dlpilot trials run {args.round_file}` continues the round")
        return EXIT_NOT_FINISHED
    return EXIT_OK


class _Display:
    """Prints the progress when it changes: counts and best, then a line per running trial."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, progress: Any) -> None:
        from dlpilot.tools.trials import render_progress

        text = render_progress(progress)
        if text != self.last:
            self.last = text
            print(text, flush=True)


def _status(args: argparse.Namespace) -> int:
    from dlpilot.tools.trials import all_status, render_status, study_status

    statuses = [study_status(args.name, args.dir)] if args.name else all_status(args.dir)
    if args.json:
        print(json.dumps([s.model_dump(mode="json") for s in statuses], indent=1))
    else:
        print(render_status(statuses, args.dir))
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    from dlpilot.tools.trials import render_summary, study_summary

    summary = study_summary(args.name, args.dir)
    if args.json:
        print(summary.model_dump_json(indent=1))
    else:
        print(render_summary(summary))
    return EXIT_OK


def _plot(args: argparse.Namespace) -> int:
    from dlpilot.tools.trials import render_round_plots, study_round, study_summary, trial_curves

    round_ = study_round(args.name, args.dir)
    records = study_summary(args.name, args.dir).trials
    written = render_round_plots(round_, records, args.out, trial_curves(round_, records))
    for path in written:
        print(path)
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    from dlpilot.tools.trials import stop_study

    result = stop_study(args.name, args.dir)
    who = ", ".join(map(str, result.signalled)) or "no runner on this machine"
    print(f"study {result.study}: stop requested ({who}); {result.stop_file}")
    return EXIT_OK


__all__ = ["add_parser", "main"]
