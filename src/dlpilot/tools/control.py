"""How long-running tools report progress and learn that they were cancelled.

Tools are plain synchronous Python. The server runs them in a worker thread and passes a
``progress`` callback (forwarded to the client as MCP progress notifications) and a ``cancel``
event (set when the client cancels; the sandbox polls it and kills the child's process group).
Both are optional: the CLI and library callers may pass nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

ProgressFn = Callable[[float, float | None, str], None]
"""``progress(done, total, message)``: ``total`` is None when unknown."""

PathGuard = Callable[[Path], Path]
"""``guard(path) -> real path``: resolves links and ``..`` and raises
:class:`~dlpilot.errors.PathNotAllowed` for a path outside what the caller may touch (the
server's roots). Tools call it on every file they open or write that they found themselves."""


def no_progress(done: float, total: float | None, message: str) -> None:
    """The default progress callback: ignore."""


class Control:
    """Progress and cancellation for one tool call."""

    def __init__(self, progress: ProgressFn | None = None, cancel: threading.Event | None = None):
        self.progress: ProgressFn = progress or no_progress
        self.cancel: threading.Event = cancel or threading.Event()

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()


__all__ = ["Control", "PathGuard", "ProgressFn", "no_progress"]
