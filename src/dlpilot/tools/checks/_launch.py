"""Checking a command that a launcher runs (``torchrun``, ``accelerate launch``, ``bash run.sh``,
``make train``): the command runs as typed, and the probe is put into every Python process it
starts through a ``sitecustomize`` first on ``PYTHONPATH`` (see ``dlpilot.sandbox.probe``). Each
process that imports torch writes its own event file into one directory; this module follows them
all and picks the primary one, whose evidence the rules judge:

* a process that took a training step beats one that did not (the launcher's own agent imports
  torch too, and DataLoader workers may);
* among those, rank 0 (``RANK``, else ``LOCAL_RANK``), else the one with the most steps;
* with no step anywhere, a process that raised (a crashed rank says why), else rank 0.

The files the processes ran are merged, and each process is listed in the report with its rank.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dlpilot.sandbox.probe import SITE_CONFIG_VAR, SITE_DIR, SITE_DIR_VAR

from ._command import Command
from ._evidence import EventReader, ProbeRun
from ._models import ProcessInfo

EVENT_GLOB = "events-*.jsonl"


class DirReader:
    """Follows every event file of a directory; :meth:`poll` returns the primary run so far."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.readers: dict[Path, EventReader] = {}

    def _runs(self) -> list[ProbeRun]:
        for path in sorted(self.directory.glob(EVENT_GLOB)):
            if path not in self.readers:
                self.readers[path] = EventReader(path)
        return [reader.poll() for reader in self.readers.values()]

    def poll(self) -> ProbeRun:
        return primary(self._runs())

    def finish(self) -> list[ProbeRun]:
        self._runs()
        return [reader.finish() for reader in self.readers.values()]


def _rank(run: ProbeRun) -> int | None:
    info = _process(run)
    for key in ("rank", "local_rank"):
        value = info.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _order(run: ProbeRun) -> tuple[int, int, int, int]:
    rank = _rank(run)
    return (
        0 if run.step_count > 0 else 1,
        0 if run.step_count == 0 and run.exception else 1,
        rank if rank is not None else 1 << 30,
        -run.step_count,
    )


def primary(runs: list[ProbeRun]) -> ProbeRun:
    """The run whose evidence stands for the command (see the module's docstring)."""
    started = [r for r in runs if r.started]
    return min(started, key=_order) if started else ProbeRun()


def merge(runs: list[ProbeRun]) -> tuple[ProbeRun, list[ProcessInfo]]:
    """The primary run, with the files of every process and, when it never trained, the
    exception of a crashed rank; and one line per process."""
    main = primary(runs)
    started = [r for r in runs if r.started]
    files: set[str] = set()
    for run in started:
        files.update(str(f) for f in (run.end.get("user_files", []) if run.end else []))
    if main.started and main.end is not None:
        main.end = {**main.end, "user_files": sorted(files)}
    if main.started and main.exception is None and main.step_count == 0:
        # a rank that crashed says why nothing trained; once the primary trained and was
        # stopped, another rank's error is most often its peer going away (a closed connection)
        crashed = [r for r in started if r.exception]
        if crashed:
            main.exception = crashed[0].exception
    infos = [
        ProcessInfo(
            pid=int(_process(run).get("pid") or 0),
            rank=_process(run).get("rank"),
            local_rank=_process(run).get("local_rank"),
            world_size=_process(run).get("world_size"),
            argv=[str(a) for a in _process(run).get("argv") or []],
            steps=run.step_count,
            exception=str(run.exception.get("type")) if run.exception else None,
            primary=run is main,
        )
        for run in sorted(started, key=_order)
    ]
    return main, infos


def _process(run: ProbeRun) -> dict[str, Any]:
    return dict(run.process) if run.process else {}


def describe(infos: list[ProcessInfo]) -> str | None:
    """Which process the evidence came from, for each runtime finding; None for one process."""
    chosen = next((p for p in infos if p.primary), None)
    if chosen is None or len(infos) < 2:
        return None
    who = f"rank {chosen.rank}" if chosen.rank is not None else "the training process"
    return f"{who} (pid {chosen.pid}), one of {len(infos)} processes that imported torch"


def launch_env(
    command: Command,
    out_dir: Path,
    mode: str,
    bounds: dict[str, int | float],
    roots: list[str],
    base: dict[str, str],
) -> dict[str, str]:
    """The child's variables: the probe's site directory first on ``PYTHONPATH``, the bounds,
    and the interpreter's directory first on ``PATH`` so ``python`` in a script is the one
    dlpilot checks with."""
    config = {**bounds, "mode": mode, "roots": roots}
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SITE_DIR, env.get("PYTHONPATH", "")) if p)
    env[SITE_DIR_VAR] = str(out_dir)
    env[SITE_CONFIG_VAR] = json.dumps(config)
    bin_dir = os.path.dirname(command.python)
    path = env.get("PATH", os.environ.get("PATH", os.defpath))
    env["PATH"] = os.pathsep.join(p for p in (bin_dir, path) if p)
    return env


__all__ = ["DirReader", "describe", "launch_env", "merge", "primary"]
