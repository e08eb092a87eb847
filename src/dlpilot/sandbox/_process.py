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
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from dlpilot.errors import (
    ChildCrashed,
    ChildOutOfMemory,
    ChildStartError,
    ChildTimeout,
    InvalidArgument,
    SandboxError,
)

from ._capture import TAIL_LINES, BoundedCapture
from ._netguard import MARKER as NETWORK_BLOCKED_MARKER
from ._owner import SHUTDOWN_GRACE_S, active_run, owned_tempdir, release_tempdir, shutting_down
from ._tree import RUN_TOKEN_VAR, ProcessTree, new_token

Cause = Literal["ok", "exit", "crash", "signal", "timeout", "oom", "cancelled"]

# --- named limits -------------------------------------------------------------------------------

DEFAULT_TIMEOUT_S = 600.0
"""Wall-clock limit when a caller sets none: a bounded check run; trials pass their own budget."""

KILL_GRACE_S = 5.0
"""Between SIGTERM and SIGKILL: time for a training script to flush logs and a checkpoint."""

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

DEFAULT_OUTPUT_LIMIT_BYTES = 1 << 20
"""Bytes kept per stream (half head, half tail): a long log's start and end, never gigabytes."""

MIN_OUTPUT_LIMIT_BYTES = 1024
"""Smallest accepted output limit: below it not even a traceback's last lines fit."""

DEFAULT_MEMORY_FRACTION = 0.75
"""Default memory limit as a share of RAM: leaves room for the parent and the system, so the
child's own allocation failure comes before the kernel's OOM killer."""

_READ_CHUNK = 64 * 1024

DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    # the basics of a shell session
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "TZ",
    "LANG",
    "LANGUAGE",
    # the locale categories, by name (a prefix would pass any LC_-named variable, a token too)
    "LC_ALL",
    "LC_ADDRESS",
    "LC_COLLATE",
    "LC_CTYPE",
    "LC_IDENTIFICATION",
    "LC_MEASUREMENT",
    "LC_MESSAGES",
    "LC_MONETARY",
    "LC_NAME",
    "LC_NUMERIC",
    "LC_PAPER",
    "LC_TELEPHONE",
    "LC_TIME",
    "TMPDIR",
    "TEMP",
    "TMP",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    # Python environments: the user's script must import what it imports in their shell
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    # accelerators, math libraries and model caches
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "CUDA_PATH",
    "LD_LIBRARY_PATH",
    "NVIDIA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TORCH_HOME",
    "HF_HOME",
    # TLS trust stores (not proxies: their URLs can hold credentials)
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)
"""Parent variables a child sees by default. A name ending in ``*`` is a prefix. Secrets (API keys,
tokens, cloud credentials) are not passed unless a caller lists them."""

_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "offline",
}
"""Set (unless the spec sets them) under ``no_network``, so libraries skip downloads cleanly."""

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


def default_memory_limit_bytes() -> int | None:
    """:data:`DEFAULT_MEMORY_FRACTION` of physical memory, or ``None`` where it cannot be read."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages * page_size * DEFAULT_MEMORY_FRACTION)


def python_executable() -> str:
    """The interpreter for user scripts: ``$DLPILOT_PYTHON`` if set, else this one."""
    chosen = os.environ.get("DLPILOT_PYTHON", "").strip()
    return chosen or sys.executable


def python_module_argv(module: str, *args: str, python: str | None = None) -> list[str]:
    """``[python, "-m", module, *args]``; ``python`` defaults to :func:`python_executable`."""
    if not module or module.startswith("-"):
        raise InvalidArgument(f"module must be a dotted module name, got {module!r}")
    return [python or python_executable(), "-m", module, *args]


# --- spec and result ----------------------------------------------------------------------------


@dataclass
class ChildSpec:
    """What to run and under which limits.

    ``env`` is set on top of the allow-listed parent variables (``env_allow``; ``*`` ends a
    prefix). ``memory_limit_bytes`` is an ``RLIMIT_DATA`` per process (``None``: no limit).
    ``no_network`` installs the Python-level guard of :mod:`dlpilot.sandbox._netguard`.
    ``output_limit_bytes`` bounds what is kept of each of stdout and stderr (head and tail).
    ``kill_grace_s`` is the wait between SIGTERM and SIGKILL.
    """

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    env_allow: Sequence[str] = DEFAULT_ENV_ALLOW
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_limit_bytes: int | None = field(default_factory=default_memory_limit_bytes)
    no_network: bool = False
    output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES
    kill_grace_s: float = KILL_GRACE_S

    def __post_init__(self) -> None:
        if (
            not isinstance(self.argv, list)
            or not self.argv
            or not all(isinstance(a, str) for a in self.argv)
        ):
            raise InvalidArgument(f"argv must be a non-empty list of strings, got {self.argv!r}")
        if not self.argv[0]:
            raise InvalidArgument(f"argv[0] must name a program, got {_shorten(repr(self.argv))}")
        for i, arg in enumerate(self.argv):
            if "\x00" in arg:
                raise InvalidArgument(f"argv[{i}] holds a NUL byte: {_shorten(repr(arg))}")
        self.cwd = Path(self.cwd)
        bad_env = {
            k: v
            for k, v in self.env.items()
            if not isinstance(k, str) or not k or "=" in k or "\x00" in k
        }
        bad_env |= {k: v for k, v in self.env.items() if not isinstance(v, str) or "\x00" in v}
        if bad_env:
            raise InvalidArgument(f"env must map variable names to strings, got {bad_env!r}")
        if isinstance(self.env_allow, str) or not all(isinstance(n, str) for n in self.env_allow):
            raise InvalidArgument(f"env_allow must be a list of names, got {self.env_allow!r}")
        _check_positive("timeout_s", self.timeout_s)
        _check_positive("kill_grace_s", self.kill_grace_s, allow_zero=True)
        if self.memory_limit_bytes is not None and (
            isinstance(self.memory_limit_bytes, bool)
            or not isinstance(self.memory_limit_bytes, int)
            or self.memory_limit_bytes <= 0
        ):
            raise InvalidArgument(
                "memory_limit_bytes must be a positive int or None, "
                f"got {self.memory_limit_bytes!r}"
            )
        if (
            isinstance(self.output_limit_bytes, bool)
            or not isinstance(self.output_limit_bytes, int)
            or self.output_limit_bytes < MIN_OUTPUT_LIMIT_BYTES
        ):
            raise InvalidArgument(
                f"output_limit_bytes must be an int >= {MIN_OUTPUT_LIMIT_BYTES}, "
                f"got {self.output_limit_bytes!r}"
            )


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        accepted = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise InvalidArgument(f"{name} must be {accepted}, got {value!r}")


@dataclass
class ChildResult:
    """How a child ended. ``cause`` is one of ``ok``, ``exit`` (non-zero exit code), ``crash``
    (uncaught Python exception), ``signal`` (killed by a signal the runner did not send),
    ``timeout``, ``oom`` and ``cancelled``.

    ``stdout`` / ``stderr`` hold the bounded capture (head, a note of the bytes left out, tail);
    ``stdout_tail`` / ``stderr_tail`` the last lines; ``*_omitted`` the bytes not kept.
    ``killed_with`` is the last signal the runner sent to the child's group, if any.
    """

    argv: list[str]
    cause: Cause
    exit_code: int | None
    signal: int | None
    wall_s: float
    timeout_s: float
    stdout: str = ""
    stderr: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    stdout_omitted: int = 0
    stderr_omitted: int = 0
    killed_with: int | None = None
    network_blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.cause == "ok"

    @property
    def output_tail(self) -> str:
        """The last lines of stderr, or of stdout when stderr is empty."""
        return self.stderr_tail if self.stderr_tail.strip() else self.stdout_tail

    def last_error_line(self) -> str:
        """The exception line of the last traceback, else the last non-empty output line."""
        return _last_error_line(self.stderr_tail) or _last_error_line(self.stdout_tail)

    def describe(self) -> str:
        """One line for a person: the cause, the numbers, and the last error line quoted."""
        took = f"after {self.wall_s:.1f} s"
        last = self.last_error_line()
        quoted = f": {_shorten(last)!r}" if last else ""
        if self.cause == "ok":
            return f"ok: exited 0 {took}"
        if self.cause == "exit":
            return f"exit: exited with code {self.exit_code} {took}{_last(quoted)}"
        if self.cause == "crash":
            return f"crash: uncaught exception {took}{quoted}"
        if self.cause == "signal":
            return f"signal: killed by {_signal_name(self.signal)} {took}{_last(quoted)}"
        if self.cause == "oom":
            how = (
                f"killed by {_signal_name(self.signal)}, likely by the kernel's OOM killer"
                if self.signal is not None
                else "an allocation failed"
            )
            return f"oom: out of memory ({how}) {took}{quoted}"
        stopped = "SIGTERM" if self.killed_with != signal.SIGKILL else "SIGTERM then SIGKILL"
        if self.cause == "timeout":
            return (
                f"timeout: still running at the {self.timeout_s:g} s limit, "
                f"stopped with {stopped}{_last(quoted)}"
            )
        return f"cancelled {took}: stopped with {stopped}{_last(quoted)}"


def _last(quoted: str) -> str:
    return f"; last output{quoted}" if quoted else ""


def _shorten(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _signal_name(signum: int | None) -> str:
    if signum is None:
        return "a signal"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


_TRACEBACK = "Traceback (most recent call last):"


def _last_error_line(text: str) -> str:
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(_TRACEBACK)]
    if starts:
        for line in lines[starts[-1] + 1 :]:
            if line.strip() and not line[0].isspace():
                return line.strip()
    for line in reversed(lines):
        if line.strip():
            return line.strip()
    return ""


# --- raising ------------------------------------------------------------------------------------


def raise_for_cause(result: ChildResult) -> ChildResult:
    """Return ``result`` if it is ok, else raise the matching :class:`SandboxError` subclass.

    ``timeout`` → ChildTimeout, ``oom`` → ChildOutOfMemory, ``exit`` / ``crash`` / ``signal`` →
    ChildCrashed, ``cancelled`` → SandboxError. The error carries ``output_tail`` and ``exit_code``.
    """
    if result.cause == "ok":
        return result
    kinds: dict[str, type[SandboxError]] = {
        "timeout": ChildTimeout,
        "oom": ChildOutOfMemory,
        "exit": ChildCrashed,
        "crash": ChildCrashed,
        "signal": ChildCrashed,
    }
    kind = kinds.get(result.cause, SandboxError)
    program = Path(result.argv[0]).name if result.argv else "child"
    raise kind(
        f"{program}: {result.describe()}",
        output_tail=result.output_tail,
        exit_code=result.exit_code,
    )


# --- environment and start ----------------------------------------------------------------------


def build_env(spec: ChildSpec, parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: allow-listed parent variables, then ``spec.env``, then the
    runner's own (``PYTHONUNBUFFERED=1`` and ``DLPILOT_SANDBOX=1`` unless the spec sets them)."""
    source = os.environ if parent is None else parent
    exact = {n for n in spec.env_allow if not n.endswith("*")}
    prefixes = tuple(n[:-1] for n in spec.env_allow if n.endswith("*"))
    env = {k: v for k, v in source.items() if k in exact or (prefixes and k.startswith(prefixes))}
    env.update(spec.env)
    env.setdefault("PYTHONUNBUFFERED", "1")  # so a killed child's last lines reach the pipe
    env.setdefault("DLPILOT_SANDBOX", "1")
    if spec.no_network:
        for key, value in _OFFLINE_ENV.items():
            env.setdefault(key, value)
    return env


def _start_error(spec: ChildSpec, reason: str) -> ChildStartError:
    program = _shorten(repr(spec.argv[0]))
    return ChildStartError(f"cannot start {program} (argv {_shorten(repr(spec.argv))}): {reason}")


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
        if code == 1 and _TRACEBACK in stderr_tail:
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
    _check_positive("tick_s", tick_s)
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
