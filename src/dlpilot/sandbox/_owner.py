"""What a dlpilot process owns, so that nothing outlives it: its running children, its temporary
directories, and the leftovers of owners that died without cleaning up.

* :func:`owned_tempdir` names a temporary directory after its owner (``dlpilot-probe-<pid>-...``)
  and remembers it until :func:`release_tempdir`;
* :func:`clean_dead_owners`, called when a dlpilot server or check starts, removes the
  temporary directories of owners that are gone and stops the processes that still carry a dead
  owner's run token (see :mod:`dlpilot.sandbox._tree`): a SIGKILLed server leaves nothing behind
  for longer than until the next start;
* :func:`stop_children` stops every child this process runs, from any thread, and
  :func:`install_shutdown_handler` does so on SIGTERM before the process exits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from ._tree import own_lineage, owner_of, snapshot, tokens_of

SHUTDOWN_GRACE_S = 1.0
"""On shutdown, between SIGTERM and SIGKILL of the children: clients that send SIGTERM on a
stdio shutdown send SIGKILL a few seconds later."""

SHUTDOWN_WAIT_S = 4.0
"""On shutdown, how long to wait for the runs to stop and clean up before exiting anyway."""

_TEMP_NAME = re.compile(r"^dlpilot-[a-z]+-(\d+)-")

shutting_down = threading.Event()
"""Set once this process is stopping: every run stops its child, and no new child starts."""

_lock = threading.RLock()  # re-entrant: the SIGTERM handler may interrupt a holder
_active_runs = 0
_idle = threading.Condition(_lock)
_temp_dirs: set[Path] = set()


def owned_tempdir(kind: str) -> Path:
    """A new temporary directory ``dlpilot-<kind>-<this pid>-XXXX``, remembered until
    :func:`release_tempdir`."""
    path = Path(tempfile.mkdtemp(prefix=f"dlpilot-{kind}-{os.getpid()}-"))
    with _lock:
        _temp_dirs.add(path)
    return path


def release_tempdir(path: Path) -> None:
    """Remove a directory from :func:`owned_tempdir`."""
    shutil.rmtree(path, ignore_errors=True)
    with _lock:
        _temp_dirs.discard(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True


def clean_dead_owners() -> None:
    """Remove the temporary directories and stop the processes of dlpilot owners that died."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(tempfile.gettempdir()):
            match = _TEMP_NAME.match(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                owner = int(match.group(1))
                if owner != os.getpid() and not _pid_alive(owner):
                    shutil.rmtree(entry.path, ignore_errors=True)
    procs = snapshot()
    if procs is None:
        return
    spare = own_lineage()
    for pid in procs:
        if pid in spare:
            continue
        for token in tokens_of(pid):
            dead = owner_of(token)
            if dead is not None and dead != os.getpid() and not _pid_alive(dead):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                break


@contextlib.contextmanager
def active_run() -> Iterator[None]:
    """Count a running child while the block runs (for :func:`stop_children` to wait on)."""
    global _active_runs
    with _lock:
        _active_runs += 1
    try:
        yield None
    finally:
        with _lock:
            _active_runs -= 1
            _idle.notify_all()


def stop_children(wait_s: float = SHUTDOWN_WAIT_S) -> bool:
    """Stop every child this process runs (each run sends SIGTERM, then SIGKILL after
    :data:`SHUTDOWN_GRACE_S`, and stops the rest of its process tree), wait up to ``wait_s`` for
    the runs to end, and remove the temporary directories still owned. Returns whether every run
    ended in time. From then on, a new child is stopped as soon as it starts."""
    shutting_down.set()
    deadline = time.monotonic() + wait_s
    with _lock:
        while _active_runs and time.monotonic() < deadline:
            _idle.wait(max(0.0, min(0.1, deadline - time.monotonic())))
        done = _active_runs == 0
        dirs = list(_temp_dirs)
    for path in dirs:
        release_tempdir(path)
    return done


def install_shutdown_handler() -> None:
    """On SIGTERM (and SIGHUP), stop the children (:func:`stop_children`), then exit with
    128 + the signal's number. Call it from the main thread of a long-running process."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop_children()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


__all__ = [
    "SHUTDOWN_GRACE_S",
    "SHUTDOWN_WAIT_S",
    "active_run",
    "clean_dead_owners",
    "install_shutdown_handler",
    "owned_tempdir",
    "release_tempdir",
    "shutting_down",
    "stop_children",
]
