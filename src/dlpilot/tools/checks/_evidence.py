"""Reading the probe's event file (JSON lines) into one :class:`ProbeRun`, without torch.

The events and the summary are typed by the probe's schema (``dlpilot.sandbox.probe._schema``,
the one contract between the probe and the rules).

The file is read incrementally while the child runs (for progress) and once at the end, through
:class:`~dlpilot.tools.checks._tail.JsonLinesTail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._tail import JsonLinesTail

if TYPE_CHECKING:
    from dlpilot.sandbox.probe._schema import (
        EndEvent,
        ExceptionEvent,
        LoaderEvent,
        ObsEvent,
        OptimizerEvent,
        ProcessEvent,
        StartEvent,
        StepEvent,
        Summary,
    )


@dataclass
class ProbeRun:
    """Everything one probe run left behind. ``summary`` is the last summary event (the final
    one when the probe finished cleanly, else the latest partial one)."""

    start: StartEvent | None = None
    steps: list[StepEvent] = field(default_factory=list)
    observations: list[ObsEvent] = field(default_factory=list)
    loaders: list[LoaderEvent] = field(default_factory=list)
    optimizers: list[OptimizerEvent] = field(default_factory=list)
    summary: Summary = field(default_factory=lambda: cast("Summary", {}))
    """Typed as the complete summary; a partial one (a crashed run, a summary that failed to
    build) lacks keys, so the rules read it through :func:`get` with defaults."""
    summary_final: bool = False
    exception: ExceptionEvent | None = None
    end: EndEvent | None = None
    bad_lines: int = 0
    process: ProcessEvent | None = None
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
        """Take one event of the file; its ``ev`` says which schema type it is."""
        kind = event.get("ev")
        if kind == "start":
            self.start = cast("StartEvent", event)
        elif kind == "step":
            self.steps.append(cast("StepEvent", event))
        elif kind == "obs":
            self.observations.append(cast("ObsEvent", event))
        elif kind == "loader":
            self.loaders.append(cast("LoaderEvent", event))
        elif kind == "optimizer":
            self.optimizers.append(cast("OptimizerEvent", event))
        elif kind == "summary":
            if "error" not in event or not self.summary:
                self.summary = cast("Summary", event)
                self.summary_final = bool(event.get("final"))
        elif kind == "exception":
            self.exception = cast("ExceptionEvent", event)
        elif kind == "end":
            self.end = cast("EndEvent", event)
        elif kind == "process":
            self.process = cast("ProcessEvent", event)


class EventReader:
    """Follows the probe's growing event file: each :meth:`poll` adds the events written since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run = ProbeRun()
        self._tail = JsonLinesTail(path)

    def poll(self) -> ProbeRun:
        return self._read(self._tail.poll())

    def finish(self) -> ProbeRun:
        return self._read(self._tail.finish())

    def _read(self, events: list[dict[str, Any]]) -> ProbeRun:
        for event in events:
            self.run.add(event)
        self.run.bad_lines = self._tail.bad_lines
        return self.run


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
