"""What a child runs and how it ended: the spec (command, environment allow-list, limits) with
its argument checks, the result with its one-line description and the error it raises, and the
child's environment. Running it is :mod:`dlpilot.sandbox._process`."""

from __future__ import annotations

import math
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dlpilot.errors import (
    ChildCrashed,
    ChildOutOfMemory,
    ChildTimeout,
    InvalidArgument,
    SandboxError,
)

Cause = Literal["ok", "exit", "crash", "signal", "timeout", "oom", "cancelled"]

# --- named limits and defaults ------------------------------------------------------------------

DEFAULT_TIMEOUT_S = 600.0
"""Wall-clock limit when a caller sets none: a bounded check run; trials pass their own budget."""

KILL_GRACE_S = 5.0
"""Between SIGTERM and SIGKILL: time for a training script to flush logs and a checkpoint."""

DEFAULT_OUTPUT_LIMIT_BYTES = 1 << 20
"""Bytes kept per stream (half head, half tail): a long log's start and end, never gigabytes."""

MIN_OUTPUT_LIMIT_BYTES = 1024
"""Smallest accepted output limit: below it not even a traceback's last lines fit."""

DEFAULT_MEMORY_FRACTION = 0.75
"""Default memory limit as a share of RAM: leaves room for the parent and the system, so the
child's own allocation failure comes before the kernel's OOM killer."""

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
            raise InvalidArgument(f"argv[0] must name a program, got {shorten(repr(self.argv))}")
        for i, arg in enumerate(self.argv):
            if "\x00" in arg:
                raise InvalidArgument(f"argv[{i}] holds a NUL byte: {shorten(repr(arg))}")
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
        check_positive("timeout_s", self.timeout_s)
        check_positive("kill_grace_s", self.kill_grace_s, allow_zero=True)
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


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
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
        quoted = f": {shorten(last)!r}" if last else ""
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


def shorten(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _signal_name(signum: int | None) -> str:
    if signum is None:
        return "a signal"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


TRACEBACK_HEADER = "Traceback (most recent call last):"


def _last_error_line(text: str) -> str:
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(TRACEBACK_HEADER)]
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


# --- environment --------------------------------------------------------------------------------


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


__all__ = [
    "DEFAULT_ENV_ALLOW",
    "DEFAULT_MEMORY_FRACTION",
    "DEFAULT_OUTPUT_LIMIT_BYTES",
    "DEFAULT_TIMEOUT_S",
    "KILL_GRACE_S",
    "MIN_OUTPUT_LIMIT_BYTES",
    "TRACEBACK_HEADER",
    "Cause",
    "ChildResult",
    "ChildSpec",
    "build_env",
    "check_positive",
    "default_memory_limit_bytes",
    "python_executable",
    "python_module_argv",
    "raise_for_cause",
    "shorten",
]
