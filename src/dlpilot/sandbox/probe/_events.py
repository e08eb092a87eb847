"""A bounded, flushed JSON-lines event writer (no torch)."""

from __future__ import annotations

import json
import math
import time
from typing import Any, TextIO

MAX_EVENT_BYTES = 256 * 1024
"""One event larger than this is replaced by a note: aggregates are capped, so this only guards."""

RESERVED_FOR_SUMMARY = 1 << 20
"""Bytes kept free for the final summary, exception and end events once the budget runs low."""


def _clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become the strings ``nan`` / ``inf`` / ``-inf``."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class EventWriter:
    """Appends one JSON object per line and flushes it, within a byte budget."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self._fh: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._max = max_bytes
        self._written = 0
        self._t0 = time.monotonic()
        self.dropped = 0

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def write(self, kind: str, /, essential: bool = False, **fields: Any) -> None:
        event = {"ev": kind, "t": round(self.elapsed(), 4), **fields}
        line = json.dumps(_clean(event), separators=(",", ":"), allow_nan=False)
        if len(line) > MAX_EVENT_BYTES:
            line = json.dumps({"ev": kind, "t": event["t"], "truncated": len(line)})
        budget = self._max if essential else self._max - RESERVED_FOR_SUMMARY
        if self._written + len(line) + 1 > budget:
            self.dropped += 1
            return
        self._fh.write(line + "\n")
        self._fh.flush()
        self._written += len(line) + 1

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
