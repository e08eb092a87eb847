"""Reading the probe's event file (JSON lines) into one :class:`ProbeRun`, without torch.

The file is read incrementally while the child runs (for progress) and once at the end. A line
that is cut off (the child was killed mid-write) or not JSON is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ProbeRun:
    """Everything one probe run left behind. ``summary`` is the last summary event (the final
    one when the probe finished cleanly, else the latest partial one)."""

    start: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    loaders: list[dict[str, Any]] = field(default_factory=list)
    optimizers: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    summary_final: bool = False
    exception: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    bad_lines: int = 0
    process: dict[str, Any] | None = None
    """Under a launcher: which process this is (pid, rank, local rank, world size, argv)."""

    @property
    def started(self) -> bool:
        return self.start is not None

    @property
    def step_count(self) -> int:
        """Optimizer steps (or backward calls when nothing stepped an optimizer) observed."""
        counts = [int(self.end.get("steps", 0))] if self.end else []
        counts.append(int(self.summary.get("steps", 0) or 0))
        if self.steps:
            counts.append(int(self.steps[-1].get("n", 0)))
        steps = max(counts)
        if steps:
            return steps
        return int((self.end or self.summary).get("backwards", 0) or 0)

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("ev")
        if kind == "start":
            self.start = event
        elif kind == "step":
            self.steps.append(event)
        elif kind == "obs":
            self.observations.append(event)
        elif kind == "loader":
            self.loaders.append(event)
        elif kind == "optimizer":
            self.optimizers.append(event)
        elif kind == "summary":
            if "error" not in event or not self.summary:
                self.summary = event
                self.summary_final = bool(event.get("final"))
        elif kind == "exception":
            self.exception = event
        elif kind == "end":
            self.end = event
        elif kind == "process":
            self.process = event


class EventReader:
    """Follows a growing event file: each :meth:`poll` parses the complete lines added since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run = ProbeRun()
        self._offset = 0
        self._partial = b""

    def poll(self) -> ProbeRun:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return self.run
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._parse(raw)
        return self.run

    def finish(self) -> ProbeRun:
        self.poll()
        if self._partial:
            self._parse(self._partial)
            self._partial = b""
        return self.run

    def _parse(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            event = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.run.bad_lines += 1
            return
        if isinstance(event, dict):
            self.run.add(event)
        else:
            self.run.bad_lines += 1


def read_events(path: Path) -> ProbeRun:
    """Parse a whole event file."""
    return EventReader(path).finish()


def get(data: Any, *keys: str | int, default: Any = None) -> Any:
    """``data[k1][k2]...`` or ``default`` when any step is missing or of the wrong kind."""
    cur = data
    for k in keys:
        if isinstance(k, int):
            if not isinstance(cur, list) or not -len(cur) <= k < len(cur):
                return default
            cur = cur[k]
        elif isinstance(cur, dict) and k in cur:
            cur = cur[k]
        else:
            return default
    return default if cur is None else cur


def num(value: Any) -> float | None:
    """A float from an event value (``"nan"`` / ``"inf"`` strings included), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return None


__all__ = ["EventReader", "ProbeRun", "get", "num", "read_events"]
