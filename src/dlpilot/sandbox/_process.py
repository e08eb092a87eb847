"""Run one child process with limits, bounded output capture and a clean, complete stop.

The child is started in a new session (``start_new_session=True``), so it leads its own process
group and session. It gets an allow-listed environment, stdin from ``/dev/null``, a wall-clock
limit, an optional memory limit and an optional network guard. On timeout or cancellation the
runner sends SIGTERM to the group, waits a named grace period, then SIGKILLs what is left; after the
child exits on its own, anything it left behind in its session is stopped the same way. The
child's own failures are results (:class:`ChildResult`), never exceptions; only a child that cannot
be started raises (:class:`~dlpilot.errors.ChildStartError`).

Memory limit: ``RLIMIT_DATA`` (private writable memory: heap, anonymous mappings, thread stacks),
set by a tiny launcher that then ``exec``\\ s the command, so the pid stays the child's. Not
``RLIMIT_AS``: CUDA reserves terabytes of address space it never touches, so an address-space limit
breaks ``import torch`` / CUDA initialisation on GPU machines. The limit is per process (every
DataLoader worker and grandchild gets it on its own, there is no total), and it counts neither
file-backed nor shared memory (``/dev/shm``, which DataLoader workers use) nor GPU memory. A child
that hits it sees an allocation fail (Python ``MemoryError``, torch ``DefaultCPUAllocator: can't
allocate memory``, C++ ``std::bad_alloc``), which is reported as cause ``"oom"``, as are CUDA's
out-of-memory errors and a SIGKILL the runner did not send (usually the kernel's OOM killer).

No network: see :mod:`dlpilot.sandbox._netguard` (a Python-level guard, not a security boundary).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from dlpilot.errors import (
    ChildStartError,
)

from ._capture import TAIL_LINES, BoundedCapture
from ._netguard import MARKER as NETWORK_BLOCKED_MARKER
from ._owner import SHUTDOWN_GRACE_S, active_run, owned_tempdir, release_tempdir, shutting_down
from ._spec import (
    TRACEBACK_HEADER,
    Cause,
    ChildResult,
    ChildSpec,
    build_env,
    check_positive,
    shorten,
)
from ._tree import RUN_TOKEN_VAR, ProcessTree, new_token

# --- named limits -------------------------------------------------------------------------------

POLL_S = 0.05
"""Longest sleep of the watch loop: how late a cancel or a child's exit can be noticed."""

TREE_SCAN_S = 0.2
"""How often the child's descendants are recorded from /proc while it runs (a few ms a scan)."""

TREE_SCAN_SHARE_INVERSE = 20
"""On a machine with many processes a scan takes longer: scans are spaced at least this many
times their own duration apart, so they never take more than 5% of a core."""

REAP_WAIT_S = 2.0
"""After SIGKILL, how long to wait for the group to vanish before giving up on stragglers."""

PIPE_DRAIN_S = 1.0
"""After the group is gone, how long to keep reading output held open by an escaped process."""

_READ_CHUNK = 64 * 1024

OOM_MARKERS: tuple[str, ...] = (
    "MemoryError",
    "OutOfMemoryError",
    "CUDA out of memory",
    "DefaultCPUAllocator: can't allocate memory",
    "std::bad_alloc",
    "Cannot allocate memory",
)
"""Text in the last lines of stderr that marks an out-of-memory failure."""

_START_FAILED = "dlpilot sandbox: cannot execute"

_PR_SET_PDEATHSIG = 1

_PR_SET_CHILD_SUBREAPER = 36

_LAUNCHER = f"""\
import os, signal, sys
limit, owner = int(sys.argv[1]), int(sys.argv[2])
if limit >= 0:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
for name in ("SIGPIPE", "SIGXFSZ"):
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
if sys.platform.startswith("linux"):
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl({_PR_SET_PDEATHSIG}, int(signal.SIGKILL), 0, 0, 0)
        prctl({_PR_SET_CHILD_SUBREAPER}, 1, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass  # no prctl: the runner's process-tree sweep still stops what the child leaves
    if os.getppid() != owner:
        os._exit(128 + int(signal.SIGKILL))  # the owner died before the signal was armed
try:
    os.execvp(sys.argv[3], sys.argv[3:])
except OSError as exc:
    sys.stderr.write("{_START_FAILED} %r: %s\\n" % (sys.argv[3], exc.strerror))
    sys.stderr.flush()
    os._exit(127)
"""
"""Run in the child before the command: sets the memory limit, restores the signals Python
ignores, and on Linux arms the parent-death signal (SIGKILL when the thread that started the
child ends, so a killed owner takes its child along) and makes the child a subreaper (its orphaned
descendants stay its own; see :mod:`dlpilot.sandbox._tree`); both survive the ``exec``. Then it
``exec``\\ s the command, so the pid stays the child's. Used instead of ``preexec_fn``, which is
unsafe in a parent that runs threads.

The parent-death signal fires when the *thread* that created the child exits, not the process:
:func:`run_child` waits for its child in the thread that started it, so the signal means "the
owner is gone". A caller must not start a child in a thread that ends before the child does."""


# --- start ----------------------------------------------------------------------------------------


def _start_error(spec: ChildSpec, reason: str) -> ChildStartError:
    program = shorten(repr(spec.argv[0]))
    return ChildStartError(f"cannot start {program} (argv {shorten(repr(spec.argv))}): {reason}")


def _check_startable(spec: ChildSpec, env: Mapping[str, str]) -> None:
    if not spec.cwd.is_dir():
        raise _start_error(spec, f"working directory {str(spec.cwd)!r} does not exist")
    program = spec.argv[0]
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else spec.cwd / program
        if not path.is_file():
            raise _start_error(spec, f"{str(path)!r} does not exist")
        if not os.access(path, os.X_OK):
            raise _start_error(spec, f"{str(path)!r} is not executable")
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise _start_error(spec, f"{program!r} was not found on the child's PATH")


def _write_guard() -> Path:
    directory = owned_tempdir("netguard")
    source = importlib.resources.files(__package__ or "dlpilot.sandbox") / "_netguard.py"
    (directory / "sitecustomize.py").write_text(source.read_text(encoding="utf-8"), "utf-8")
    return directory


# --- the run ------------------------------------------------------------------------------------


class _Watch:
    """One run: pumps output, calls ticks, enforces the deadline and stops the group."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        spec: ChildSpec,
        started: float,
        cancel: threading.Event | None,
        on_tick: Callable[[], None] | None,
        tick_s: float,
        token: str,
    ) -> None:
        self.proc = proc
        self.spec = spec
        self.started = started
        self.cancel = cancel
        self.on_tick = on_tick
        self.tick_s = tick_s
        self.tree = ProcessTree(proc.pid, token)
        self.grace_s = spec.kill_grace_s
        self.next_scan = started
        self.reason: Cause | None = None
        self.killed_with: int | None = None
        self.term_at: float | None = None
        self.captures: dict[int, BoundedCapture] = {}
        self.selector = selectors.DefaultSelector()
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            self.captures[stream.fileno()] = BoundedCapture(spec.output_limit_bytes)
            self.selector.register(stream, selectors.EVENT_READ)

    # output

    def pump(self, wait_s: float) -> None:
        if not self.selector.get_map():
            if wait_s > 0:
                time.sleep(wait_s)
            return
        for key, _ in self.selector.select(max(wait_s, 0.0)):
            stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
            try:
                data = os.read(stream.fileno(), _READ_CHUNK)
            except BlockingIOError:
                continue
            if data:
                self.captures[stream.fileno()].feed(data)
            else:
                self.selector.unregister(stream)

    def drain(self, budget_s: float) -> None:
        end = time.monotonic() + budget_s
        while self.selector.get_map() and time.monotonic() < end:
            self.pump(min(POLL_S, end - time.monotonic()))

    # stopping

    def terminate(self, reason: Cause | None) -> None:
        if self.reason is None and reason is not None:
            self.reason = reason
        if self.term_at is None:
            self.term_at = time.monotonic()
            self.killed_with = signal.SIGTERM
            self.tree.signal(signal.SIGTERM)

    def escalate_if_due(self) -> None:
        if (
            self.term_at is not None
            and self.killed_with == signal.SIGTERM
            and time.monotonic() >= self.term_at + self.grace_s
        ):
            self.killed_with = signal.SIGKILL
            self.tree.signal(signal.SIGKILL)

    def scan_if_due(self, now: float) -> None:
        """Record the child's descendants (they may leave its session or be orphaned later)."""
        if now >= self.next_scan:
            self.tree.record()
            took = time.monotonic() - now
            self.next_scan = now + max(TREE_SCAN_S, TREE_SCAN_SHARE_INVERSE * took)

    # the loop

    def run(self) -> ChildResult:
        deadline = self.started + self.spec.timeout_s
        next_tick = self.started + self.tick_s
        while self.proc.poll() is None:
            now = time.monotonic()
            self.scan_if_due(now)
            if self.reason is None:
                if shutting_down.is_set():
                    self.grace_s = min(self.grace_s, SHUTDOWN_GRACE_S)
                    self.terminate("cancelled")
                elif self.cancel is not None and self.cancel.is_set():
                    self.terminate("cancelled")
                elif now >= deadline:
                    self.terminate("timeout")
            self.escalate_if_due()
            if self.on_tick is not None and now >= next_tick:
                self.on_tick()
                next_tick = time.monotonic() + self.tick_s
            wait = POLL_S
            if self.reason is None:
                wait = min(wait, deadline - now)
            self.pump(wait)
        self.stop_leftovers()
        self.drain(PIPE_DRAIN_S)
        return self.result()

    def stop_leftovers(self) -> None:
        """Stop what the child left behind (its own exit does not end its children): its
        session, its recorded descendants, and whatever carries its run token."""
        if not self.tree.alive(search_tokens=True):
            return
        self.terminate(None)
        if shutting_down.is_set():
            self.grace_s = min(self.grace_s, SHUTDOWN_GRACE_S)
        while self.tree.alive() and self.killed_with == signal.SIGTERM:
            self.escalate_if_due()
            self.pump(POLL_S)
        end = time.monotonic() + REAP_WAIT_S
        while self.tree.alive() and time.monotonic() < end:
            self.pump(POLL_S)

    def close(self) -> None:
        """Last resort on any exit path: nothing of the child's may outlive the call."""
        if self.proc.poll() is None or self.tree.alive(search_tokens=True):
            self.tree.signal(signal.SIGKILL, search_tokens=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(REAP_WAIT_S)
        self.selector.close()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def result(self) -> ChildResult:
        code = self.proc.returncode
        assert code is not None
        exit_code = code if code >= 0 else None
        signum = -code if code < 0 else None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out = self.captures[self.proc.stdout.fileno()]
        err = self.captures[self.proc.stderr.fileno()]
        stderr_tail = err.tail_text(TAIL_LINES)
        stdout_tail = out.tail_text(TAIL_LINES)
        return ChildResult(
            argv=list(self.spec.argv),
            cause=self.classify(code, signum, stderr_tail),
            exit_code=exit_code,
            signal=signum,
            wall_s=time.monotonic() - self.started,
            timeout_s=self.spec.timeout_s,
            stdout=out.text(),
            stderr=err.text(),
            stdout_tail=stdout_tail,
            stderr_tail=stderr_tail,
            stdout_omitted=out.omitted,
            stderr_omitted=err.omitted,
            killed_with=self.killed_with,
            network_blocked=NETWORK_BLOCKED_MARKER in stderr_tail,
        )

    def classify(self, code: int, signum: int | None, stderr_tail: str) -> Cause:
        if self.reason is not None:
            return self.reason
        if code == 0:
            return "ok"
        if signum == signal.SIGKILL or any(m in stderr_tail for m in OOM_MARKERS):
            return "oom"
        if signum is not None:
            return "signal"
        if code == 1 and TRACEBACK_HEADER in stderr_tail:
            return "crash"
        return "exit"


def _launch_argv(spec: ChildSpec) -> list[str]:
    if spec.memory_limit_bytes is None and not sys.platform.startswith("linux"):
        return list(spec.argv)
    limit = -1 if spec.memory_limit_bytes is None else spec.memory_limit_bytes
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(limit), str(os.getpid()), *spec.argv]


def _prepend_path(value: str, existing: str | None) -> str:
    return value if not existing else f"{value}{os.pathsep}{existing}"


def run_child(
    spec: ChildSpec,
    *,
    cancel: threading.Event | None = None,
    on_tick: Callable[[], None] | None = None,
    tick_s: float = 0.5,
) -> ChildResult:
    """Run ``spec`` to its end and return how it ended.

    Calls ``on_tick`` about every ``tick_s`` seconds while the child runs (in this thread; an
    exception from it stops the child and propagates). On timeout or when ``cancel`` is set, the
    child's process group gets SIGTERM, then SIGKILL after ``spec.kill_grace_s``. Whatever the
    child leaves running in its session is stopped before this returns.

    Raises :class:`~dlpilot.errors.ChildStartError` if the child cannot be started (missing
    executable or working directory); the child's own failures are returned, never raised.
    """
    check_positive("tick_s", tick_s)
    env = build_env(spec)
    _check_startable(spec, env)
    token = new_token()
    env[RUN_TOKEN_VAR] = token
    with active_run():
        return _run(spec, env, token, cancel, on_tick, tick_s)


def _run(
    spec: ChildSpec,
    env: dict[str, str],
    token: str,
    cancel: threading.Event | None,
    on_tick: Callable[[], None] | None,
    tick_s: float,
) -> ChildResult:
    guard_dir: Path | None = None
    try:
        if shutting_down.is_set():
            raise _start_error(spec, "this process is shutting down")
        if spec.no_network:
            guard_dir = _write_guard()
            env["PYTHONPATH"] = _prepend_path(str(guard_dir), env.get("PYTHONPATH"))
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                _launch_argv(spec),
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise _start_error(spec, exc.strerror or str(exc)) from exc
        watch = _Watch(proc, spec, started, cancel, on_tick, tick_s, token)
        try:
            result = watch.run()
        finally:
            watch.close()
        if result.exit_code == 127 and _START_FAILED in result.stderr_tail:
            raise _start_error(spec, result.last_error_line())
        return result
    finally:
        if guard_dir is not None:
            release_tempdir(guard_dir)
