"""Request, events and result files shared with the parent (standard library only)."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EVENT_MIN_INTERVAL_S = 0.2
"""Least time between two progress events: the parent polls every 0.5 s, finer is wasted I/O."""


class EntryStageError(RuntimeError):
    """User code failed in a named stage; the message is the line the parent shows."""


@contextmanager
def stage(what: str) -> Iterator[None]:
    """Re-raise anything user code raises as :class:`EntryStageError` prefixed with ``what``."""
    try:
        yield
    except EntryStageError:
        raise
    except Exception as exc:
        raise EntryStageError(f"{what}: {type(exc).__name__}: {exc}") from exc


class Events:
    """Appends progress events as JSON lines; the parent reads them while the child runs."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._last = 0.0

    def emit(self, done: float, total: float | None, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.path is None or (not force and now - self._last < EVENT_MIN_INTERVAL_S):
            return
        self._last = now
        line = json.dumps({"done": done, "total": total, "message": message})
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def read_request(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"entry probe: request {path} is not a JSON object")
    return data


def clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def write_result(path: str, result: dict[str, Any]) -> None:
    """Write atomically, so the parent never reads half a result."""
    target = Path(path)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(clean(result), allow_nan=False), encoding="utf-8")
    os.replace(tmp, target)
