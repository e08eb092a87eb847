"""The one exception tree of dlpilot.

::

    DlpilotError             anything dlpilot raises on purpose
    ├── InvalidArgument      bad input; the message names the value and what is accepted
    │   └── PathNotAllowed   a path outside the allowed roots (after ``..`` and symlinks)
    ├── ProjectError         the project cannot be read as asked (missing dir, bad table)
    ├── CurveReadError       a metrics file or run directory cannot be read at all
    └── SandboxError         user code could not be run to the end that was asked for
        ├── ChildStartError  the child could not be started (missing interpreter, bad cwd)
        ├── ChildTimeout     the child ran past its wall-clock limit and was killed
        ├── ChildOutOfMemory the child ran out of memory (host limit or CUDA OOM)
        └── ChildCrashed     the child failed on its own (exception, signal, sys.exit)

Known failures are classified into these; everything else propagates. The server turns a
``DlpilotError`` into a tool error with its message; anything else becomes a short internal-error
message without a traceback.
"""

from __future__ import annotations


class DlpilotError(Exception):
    """Base of every error dlpilot raises on purpose."""


class InvalidArgument(DlpilotError, ValueError):
    """A caller passed a value dlpilot cannot accept; the message names it."""


class PathNotAllowed(InvalidArgument):
    """A path resolves outside the roots the server may read and write."""


class ProjectError(DlpilotError):
    """The project cannot be read as asked."""


class CurveReadError(DlpilotError):
    """A metrics source cannot be read at all (partial reads give warnings instead)."""


class SandboxError(DlpilotError):
    """User code could not be run as asked. ``output_tail`` holds the child's last output lines."""

    def __init__(
        self, message: str, *, output_tail: str = "", exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.output_tail = output_tail
        self.exit_code = exit_code


class ChildStartError(SandboxError):
    """The child process could not be started."""


class ChildTimeout(SandboxError):
    """The child ran past its wall-clock limit and its process group was killed."""


class ChildOutOfMemory(SandboxError):
    """The child ran out of memory."""


class ChildCrashed(SandboxError):
    """The child exited with an error of its own."""


__all__ = [
    "ChildCrashed",
    "ChildOutOfMemory",
    "ChildStartError",
    "ChildTimeout",
    "CurveReadError",
    "DlpilotError",
    "InvalidArgument",
    "PathNotAllowed",
    "ProjectError",
    "SandboxError",
]
