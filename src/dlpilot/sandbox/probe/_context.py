"""What every observer of a probed run shares: the bounds, the event writer, the step counters,
the sampling decision, the stop, user-code locations and notes of the probe's own errors.

Stopping: the probe stops the user's script by raising :class:`StopProbe` (a ``BaseException``,
so ``except Exception`` in user code cannot swallow it); once stopping, every hook raises it again
(:meth:`RunContext.check`), and a script that keeps swallowing it is ended by the coordinator.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._events import EventWriter
from ._schema import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    DEFAULT_OVERFIT_STEPS,
    DEFAULT_SAMPLE_EVERY,
    DEFAULT_TRAIN_BATCHES,
    DEFAULT_VAL_BATCHES,
)

DENSE_STEPS = 10
"""Every one of the first steps is sampled: most bugs show from the start."""

SWALLOW_LIMIT = 20
"""Hooks that may re-raise :class:`StopProbe` after the stop (``finally`` blocks may run a few);
beyond this the script is swallowing it, and the probe ends the process itself."""

MAX_WHERE = 64
"""User-code locations kept (one per evidence key)."""

MAX_INTERNAL_ERRORS = 16
"""Distinct probe errors reported (each once)."""

DLPILOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""dlpilot's own source: frames there are never the user's code."""


class StopProbe(BaseException):
    """Raised from a hook to stop the user's script once the bound is reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Config:
    mode: str = "script"
    train_batches: int = DEFAULT_TRAIN_BATCHES
    val_batches: int = DEFAULT_VAL_BATCHES
    epochs: int = DEFAULT_EPOCHS
    max_steps: int = DEFAULT_MAX_STEPS
    max_seconds: float = DEFAULT_MAX_SECONDS
    overfit_steps: int = DEFAULT_OVERFIT_STEPS
    sample_every: int = DEFAULT_SAMPLE_EVERY
    roots: tuple[str, ...] = ()
    script: str | None = None


def _noop() -> None:
    return None


class RunContext:
    """The state every observer reads, and the few decisions they share."""

    def __init__(self, writer: EventWriter, config: Config) -> None:
        self.w = writer
        self.cfg = config
        self.overfit = config.mode == "overfit"
        self.pid = os.getpid()
        self.active = False
        self.stop_reason: str | None = None
        self.steps = 0
        """Optimizer steps."""
        self.backwards = 0
        self.forwards = 0
        """Top-level model forwards."""
        self.sampled = True
        """Whether this step takes the statistics that need a host transfer."""
        self.where: dict[str, list[Any]] = {}
        self.internal_errors: list[str] = []
        self.end_step: Callable[[], None] = _noop
        """Set by the coordinator: the end of a step (step event, sampling, summaries)."""
        self.hard_exit: Callable[[], None] = _noop
        """Set by the coordinator: write the evidence and end the process."""
        self._t0 = time.monotonic()
        self._reraised = 0
        self._undo: list[Callable[[], None]] = []

    def count(self) -> int:
        """Steps so far: optimizer steps, or backward calls when nothing steps an optimizer."""
        return self.steps if self.steps else self.backwards

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def mine(self) -> bool:
        """Whether a hook runs in the probed process while the probe is installed (a forked
        DataLoader worker inherits the hooks; it must not record)."""
        return self.active and os.getpid() == self.pid

    def check(self) -> None:
        """Raise :class:`StopProbe` again once stopping; stop when the time is up."""
        if self.stop_reason is not None and self.active:
            self._reraised += 1
            if self._reraised > SWALLOW_LIMIT:
                self.hard_exit()
            raise StopProbe(self.stop_reason)
        if self.active and self.elapsed() > self.cfg.max_seconds:
            self.stop("time")

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        raise StopProbe(self.stop_reason)

    def bound(self, count: int) -> None:
        """Stop at the step bound of the mode."""
        if self.overfit:
            if count >= self.cfg.overfit_steps:
                self.stop("overfit-steps")
        elif count >= self.cfg.max_steps:
            self.stop("steps")
        self.check()

    def mark(self, key: str) -> None:
        """Remember the user-code line that is running now, the first time ``key`` is seen."""
        if key in self.where or len(self.where) > MAX_WHERE:
            return
        f = sys._getframe(1)
        while f is not None:
            path = f.f_code.co_filename
            if (
                not path.startswith(DLPILOT_DIR)
                and not path.startswith("<")
                and "site-packages" not in path
                and "/lib/python" not in path
            ):
                self.where[key] = [os.path.abspath(path), f.f_lineno]
                return
            f = f.f_back  # type: ignore[assignment]

    def internal(self, where: str, exc: Exception) -> None:
        """A bug in the probe must not become the user's failure: note it once and go on."""
        key = f"{where}:{type(exc).__name__}"
        if key not in self.internal_errors and len(self.internal_errors) < MAX_INTERNAL_ERRORS:
            self.internal_errors.append(key)
            self.w.write("probe-error", where=where, error=f"{type(exc).__name__}: {exc}"[:500])

    def patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Replace ``owner.name`` by ``make(original)`` until :meth:`undo_all`."""
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def on_undo(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def undo_all(self) -> None:
        self.active = False
        while self._undo:
            try:
                self._undo.pop()()
            except Exception:  # noqa: S112 - best effort while shutting down
                continue


__all__ = ["DENSE_STEPS", "DLPILOT_DIR", "Config", "RunContext", "StopProbe"]
