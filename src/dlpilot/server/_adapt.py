"""Run a synchronous tool from an MCP handler: in a worker thread, with progress notifications,
cancellation that reaches the tool, and dlpilot errors turned into tool errors."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from dlpilot.errors import DlpilotError
from dlpilot.tools.control import Control

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

HEARTBEAT_S = 2.0
"""Progress is sent at least this often while a tool runs: some clients reset their time-out only
on progress notifications."""
POLL_S = 0.25
"""How often the handler looks for new progress from the worker thread."""


class _Progress:
    """The latest progress the tool reported, shared between the worker thread and the handler."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state: tuple[float, float | None, str] = (0.0, None, "started")
        self.version = 0

    def update(self, done: float, total: float | None, message: str) -> None:
        with self._lock:
            self.state = (done, total, message)
            self.version += 1


MAX_ERROR_CHARS = 2000
"""Longest tool-error message: a bad value is named, shortened, never echoed whole (a client may
send megabytes)."""


def error_message(exc: BaseException) -> str:
    """The error's own message, its middle left out when it is longer than
    :data:`MAX_ERROR_CHARS`. An OS error says what the system refused and for which file."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if isinstance(exc.filename, str) else None
        text = exc.strerror + (f": {name!r}" if name is not None else "")
    if len(text) <= MAX_ERROR_CHARS:
        return text
    head, tail = MAX_ERROR_CHARS * 2 // 3, MAX_ERROR_CHARS // 4
    return f"{text[:head]}... ({len(text) - head - tail} characters left out) ...{text[-tail:]}"


def tool_errors(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn a dlpilot error raised in an MCP handler (a bad path, a bad value) into a tool error
    whose message is the error's own: it names the bad value and what is accepted."""

    @functools.wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        except (DlpilotError, OSError) as exc:  # OSError: a file the system refused
            raise ToolError(error_message(exc)) from exc

    return wrapped


async def run_tool(ctx: Context | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, control=Control(...), **kwargs)`` in a thread and relay its progress."""
    progress = _Progress()
    cancel = threading.Event()
    control = Control(progress=progress.update, cancel=cancel)
    call = functools.partial(fn, *args, control=control, **kwargs)
    result: list[T] = []
    error: list[BaseException] = []

    async def work() -> None:
        try:
            result.append(await anyio.to_thread.run_sync(call, abandon_on_cancel=True))
        except BaseException as exc:  # re-raised below, in the handler's task
            error.append(exc)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(work)
            sent_version, last_sent = -1, time.monotonic()
            while not result and not error:
                await anyio.sleep(POLL_S)
                now = time.monotonic()
                if ctx is not None and (
                    progress.version != sent_version or now - last_sent >= HEARTBEAT_S
                ):
                    done, total, message = progress.state
                    sent_version, last_sent = progress.version, now
                    await ctx.report_progress(done, total, message)
    except anyio.get_cancelled_exc_class():
        cancel.set()  # the sandbox sees this and kills the child's process group
        raise
    if error:
        exc = error[0]
        if isinstance(exc, DlpilotError | OSError):
            raise ToolError(error_message(exc)) from exc
        raise exc
    return result[0]


__all__ = ["HEARTBEAT_S", "MAX_ERROR_CHARS", "error_message", "run_tool", "tool_errors"]
