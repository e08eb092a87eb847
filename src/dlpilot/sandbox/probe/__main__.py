"""``python -m dlpilot.sandbox.probe --out EVENTS.jsonl [bounds] -- script.py args...``

Installs the hooks, runs the script as ``__main__`` (``sys.argv`` set to the script and its
arguments, ``sys.path[0]`` to its directory; ``-m package.module`` runs a module instead), stops it
when the bound is reached and writes the final summary. Exit status: 0 when the script finished or
was stopped by the bound, 1 after a user exception (its traceback goes to stderr as usual), the
script's own code after ``sys.exit(n)``, 2 for bad probe arguments.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

from . import MODES
from ._schema import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    DEFAULT_OVERFIT_STEPS,
    DEFAULT_SAMPLE_EVERY,
    DEFAULT_TRAIN_BATCHES,
    DEFAULT_VAL_BATCHES,
)
from ._site import seconds_left


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" not in argv:
        raise SystemExit("dlpilot probe: expected '--' followed by the script and its arguments")
    cut = argv.index("--")
    p = argparse.ArgumentParser(prog="python -m dlpilot.sandbox.probe")
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=MODES, default="script")
    p.add_argument("--train-batches", type=int, default=DEFAULT_TRAIN_BATCHES)
    p.add_argument("--val-batches", type=int, default=DEFAULT_VAL_BATCHES)
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS)
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS)
    p.add_argument("--soft-deadline", type=float, default=None, help="time.time() to stop at")
    p.add_argument("--overfit-steps", type=int, default=DEFAULT_OVERFIT_STEPS)
    p.add_argument("--sample-every", type=int, default=DEFAULT_SAMPLE_EVERY)
    p.add_argument("--max-event-bytes", type=int, default=DEFAULT_MAX_EVENT_BYTES)
    p.add_argument("--root", action="append", default=[], help="also user code (repository root)")
    args = p.parse_args(argv[:cut])
    script = argv[cut + 1 :]
    if not script:
        raise SystemExit("dlpilot probe: no script given after '--'")
    return args, script


def _chain_has_stop(exc: BaseException | None, stop_type: type[BaseException]) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, stop_type):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def main(argv: list[str] | None = None) -> int:
    args, script = _parse(list(sys.argv[1:] if argv is None else argv))

    from ._events import EventWriter

    writer = EventWriter(args.out, args.max_event_bytes)
    module: str | None = None
    if script[0] == "-m":
        if len(script) < 2:
            raise SystemExit("dlpilot probe: -m needs a module name")
        module, script_args = script[1], script[2:]
        target = module
        script_dir = os.getcwd()
    else:
        target = os.path.abspath(script[0])
        script_args = script[1:]
        script_dir = os.path.dirname(target)

    from ._recorder import Config, Recorder, StopProbe

    cfg = Config(
        mode=args.mode,
        train_batches=args.train_batches,
        val_batches=args.val_batches,
        epochs=args.epochs,
        max_steps=args.max_steps,
        max_seconds=seconds_left(args.max_seconds, args.soft_deadline),
        overfit_steps=args.overfit_steps,
        sample_every=args.sample_every,
        roots=tuple(sorted({script_dir, os.getcwd(), *args.root})),
        script=target if module is None else None,
    )
    rec = Recorder(writer, cfg)
    rec.install()
    sys.argv = [target if module is None else module, *script_args]
    if module is None:
        sys.path[0] = script_dir
    else:
        sys.path.insert(0, script_dir)
    reason, code = "finished", 0
    try:
        if module is None:
            runpy.run_path(target, run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except StopProbe:
        reason = rec.stop_reason or "steps"
    except SystemExit as exc:
        if _chain_has_stop(exc.__context__, StopProbe):
            reason = rec.stop_reason or "steps"
        else:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            reason = "finished" if code == 0 else "exit"
    except BaseException as exc:
        if _chain_has_stop(exc, StopProbe):
            reason = rec.stop_reason or "steps"
        else:
            reason, code = "exception", 1
            rec.record_exception(exc)
            rec.uninstall()
            import traceback

            traceback.print_exception(type(exc), exc, exc.__traceback__)
    finally:
        rec.uninstall()
        if rec.stop_reason is not None and reason == "finished":
            reason = rec.stop_reason
        rec.finish(reason, code)
        writer.close()
        sys.stdout.flush()
        sys.stderr.flush()
    return code


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown of the user's leftovers (threads, atexit hooks of loggers that
    # would keep a stopped run alive); everything the probe needs is already flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
