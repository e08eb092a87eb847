"""The probe in a process a launcher started (``torchrun``, ``accelerate launch``, ``bash run.sh``,
``make train``): armed by ``site/sitecustomize.py``, it waits until the process imports torch,
then installs the :class:`~dlpilot.sandbox.probe._recorder.Recorder` with the bounds the parent
put in ``$DLPILOT_PROBE_CONFIG`` and writes this process's own event file,
``$DLPILOT_PROBE_DIR/events-<pid>.jsonl``. Processes that never import torch (a shell, ``make``,
a data-download helper) leave no file.

The first event, ``process``, says which process it is: pid, parent pid, the rank, local rank and
world size a distributed launcher sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``), and its argv.
Without ``__main__``'s ``try`` around the script, the end is caught here: an uncaught
:class:`StopProbe` ends the process (status 0) after the final summary; any other uncaught
exception is recorded and then reported as Python would; a normal exit writes the summary from an
``atexit`` hook. Standard library only until torch is imported.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import time
from types import ModuleType, TracebackType
from typing import Any

from . import SITE_CONFIG_VAR as CONFIG_VAR
from . import SITE_DIR_VAR as DIR_VAR
from ._schema import DEFAULT_MAX_EVENT_BYTES

MIN_SECONDS = 0.5
"""Shortest time bound: a start-up that ate the whole budget still gets to write its evidence."""


def seconds_left(max_seconds: float, soft_deadline: float | None) -> float:
    """The time bound counted from now: the parent's deadline includes the start-up (importing
    torch takes seconds), which the probe's own clock, started later, does not see."""
    if soft_deadline is None:
        return max_seconds
    return max(MIN_SECONDS, min(max_seconds, soft_deadline - time.time()))


def _int_env(name: str) -> int | None:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return None


class _TorchWatch(importlib.abc.MetaPathFinder):
    """Finds ``torch`` through the other finders and activates the probe once it is imported."""

    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            loader.exec_module = original  # type: ignore[method-assign]
            activate()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def arm() -> None:
    """Activate now if torch is already imported, else when it is."""
    if "torch" in sys.modules:
        activate()
    elif not any(isinstance(f, _TorchWatch) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchWatch())


_active: list[Any] = []


def activate() -> None:
    """Install the recorder in this process (once)."""
    if _active or not os.environ.get(DIR_VAR):
        return
    try:
        _install()
    except Exception as exc:  # the user's process must run on, unprobed
        sys.stderr.write(f"dlpilot probe: not installed in this process: {exc!r}\n")


def _install() -> None:
    from ._events import EventWriter
    from ._recorder import Config, Recorder

    raw = json.loads(os.environ.get(CONFIG_VAR) or "{}")
    fields = {k: v for k, v in raw.items() if k in Config.__dataclass_fields__}
    fields["max_seconds"] = seconds_left(
        float(fields.get("max_seconds", Config.max_seconds)), raw.get("soft_deadline")
    )
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    script = os.path.abspath(argv0) if argv0.endswith(".py") and os.path.isfile(argv0) else None
    roots = {*(fields.pop("roots", None) or ()), os.getcwd()}
    if script is not None:
        roots.add(os.path.dirname(script))
    cfg = Config(**fields, roots=tuple(sorted(roots)), script=script)
    pid = os.getpid()
    writer = EventWriter(
        os.path.join(os.environ[DIR_VAR], f"events-{pid}.jsonl"), DEFAULT_MAX_EVENT_BYTES
    )
    writer.write(
        "process",
        essential=True,
        pid=pid,
        ppid=os.getppid(),
        rank=_int_env("RANK"),
        local_rank=_int_env("LOCAL_RANK"),
        world_size=_int_env("WORLD_SIZE"),
        argv=[str(a)[:200] for a in sys.argv[:20]],
    )
    rec = Recorder(writer, cfg)
    rec.install()
    _active.append(rec)
    done: list[bool] = []

    def finish(reason: str, code: int) -> None:
        if done or os.getpid() != pid:
            return
        done.append(True)
        rec.uninstall()
        if rec.stop_reason is not None and reason == "finished":
            reason = rec.stop_reason
        rec.finish(reason, code)
        writer.close()

    previous = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if os.getpid() == pid and _stopped(exc):
            finish(rec.stop_reason or "steps", 0)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        if os.getpid() == pid and not done:
            rec.ctx.active = False
            rec.record_exception(exc)
            finish("exception", 1)
        previous(kind, exc, tb)

    sys.excepthook = excepthook
    atexit.register(finish, "finished", 0)


def _stopped(exc: BaseException | None) -> bool:
    from ._recorder import StopProbe

    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, StopProbe):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


__all__ = ["CONFIG_VAR", "DIR_VAR", "activate", "arm", "seconds_left"]
