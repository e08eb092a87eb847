"""Who runs a study's trials, and whether they are still alive.

The embedded journal has no heartbeat, so each runner holds a *lease* in the study's folder:
``runners/<host>-<pid>.lease``, locked with ``flock`` for the runner's lifetime and touched every
:data:`LEASE_TOUCH_S`. Every trial it runs records its ``worker`` (``host:pid``). A second runner
tells a dead owner from a live one by the lease: on the same host, a lease nobody holds locked (the
kernel drops the lock of a killed process) or a pid that is gone; on another host (a shared
folder), a lease not touched for :data:`LEASE_STALE_S`.

A dead runner's trial processes may outlive it; :func:`kill_trial_processes` finds them by the
``DLPILOT_TRIAL_DIR`` in their environment (children and grandchildren inherit it) and kills them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

LEASE_TOUCH_S = 2.0
"""How often a runner touches its lease: cheap, and well inside :data:`LEASE_STALE_S`."""

LEASE_STALE_S = 30.0
"""A lease on another host untouched this long belongs to a dead runner (fifteen missed
touches: a loaded machine or a slow shared folder is not taken for dead)."""

HOST = socket.gethostname()


def worker_id(pid: int | None = None) -> str:
    return f"{HOST}:{os.getpid() if pid is None else pid}"


def _lease_path(folder: Path, worker: str) -> Path:
    return folder / "runners" / (worker.replace(":", "-").replace("/", "_") + ".lease")


class Lease:
    """This process's lease on a study folder: take it with ``acquire``, drop it with
    ``release`` (or by dying)."""

    def __init__(self, folder: Path, info: dict[str, object] | None = None) -> None:
        self.folder = folder
        self.worker = worker_id()
        self.path = _lease_path(folder, self.worker)
        self.info = dict(info or {})
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> Lease:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        data = {"host": HOST, "pid": os.getpid(), "started": time.time(), **self.info}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(data).encode())
        self._fd = fd
        self._thread = threading.Thread(target=self._touch, name="dlpilot-lease", daemon=True)
        self._thread.start()
        return self

    def _touch(self) -> None:
        while not self._stop.wait(LEASE_TOUCH_S):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        self._stop.set()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def owner_alive(folder: Path, worker: str) -> bool:
    """Whether the runner ``worker`` (``host:pid``) still holds its lease on ``folder``."""
    path = _lease_path(folder, worker)
    host, _, pid_text = worker.rpartition(":")
    if not path.exists():
        return False
    if host != HOST:
        try:
            return time.time() - path.stat().st_mtime < LEASE_STALE_S
        except OSError:
            return False
    if not pid_text.isdigit() or not _pid_exists(int(pid_text)):
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # someone holds it: the owner lives
    finally:
        os.close(fd)
    return False


def live_runners(folder: Path) -> list[dict[str, object]]:
    """The runners that hold a lease on ``folder`` now (their ``host``, ``pid``, ...)."""
    found = []
    for path in sorted((folder / "runners").glob("*.lease")):
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            continue
        worker = f"{data.get('host')}:{data.get('pid')}"
        if owner_alive(folder, worker):
            found.append(data)
    return found


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_trial_processes(trial_dir: Path) -> list[int]:
    """SIGKILL every process of this user whose environment holds ``DLPILOT_TRIAL_DIR`` =
    ``trial_dir`` (a dead runner's trial and its children); the pids killed."""
    needle = b"DLPILOT_TRIAL_DIR=" + os.fsencode(str(trial_dir)) + b"\0"
    killed: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return killed
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read() + b"\0"
        except OSError:
            continue
        if needle in environ:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
    return killed


__all__ = [
    "LEASE_STALE_S",
    "LEASE_TOUCH_S",
    "Lease",
    "kill_trial_processes",
    "live_runners",
    "owner_alive",
    "worker_id",
]
