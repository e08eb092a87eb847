"""The reader contract and the helpers every reader shares.

A reader turns one metrics source into ``Run`` objects::

    class Reader:
        format: str                      # the Run.format it produces ("jsonl", "tensorboard", ...)
        claims_subtree: bool             # True: a directory it detects is read whole; the
                                         # directory walk does not look inside it again
        def detect(self, path) -> bool   # cheap: names, a few header bytes; never parses it all
        def read(self, path) -> list[Run]

``detect`` is called on files and on directories. ``read`` is only called on a path that ``detect``
accepted (or one the caller named with ``format=``); it returns one Run per run found (a directory
of MLflow runs gives many), every point of every series, and

* raises ``CurveReadError`` naming the path and the reason when nothing can be read at all;
* on partial damage (torn last line or record, bad checksum, half-written JSON) returns what came
  before the damage and says what was skipped, where, on ``Run.warnings``.

Series are built through ``SeriesBuilder``, which sorts by step, resolves duplicate steps (the last
value written wins: a resumed run rewrites steps) and normalizes names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves.readers._names import normalize_metric_name


class Reader(ABC):
    """One metrics format; see the module docstring for the contract."""

    format: ClassVar[str]
    claims_subtree: ClassVar[bool] = False

    @abstractmethod
    def detect(self, path: Path) -> bool:
        """Whether ``read(path)`` applies: a cheap look at names and header bytes only."""

    @abstractmethod
    def read(self, path: Path) -> list[Run]:
        """Every run in ``path``; ``CurveReadError`` when nothing can be read at all."""


def run_name_for(path: Path) -> str:
    """A run's display name: a file's directory for generic file names, else the file's stem."""
    generic = {"metrics", "events", "log", "logs", "trainer_state", "history", "progress", "train"}
    if path.is_dir():
        return path.name or str(path)
    stem = path.name.split(".")[0]
    if stem.lower() in generic or path.name.startswith("events.out.tfevents"):
        return path.parent.name or stem
    return stem


class SeriesBuilder:
    """Collects (step, value[, wall time]) columns per original metric name, then builds Series."""

    def __init__(self) -> None:
        self._columns: dict[
            str,
            list[
                tuple[
                    npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None
                ]
            ],
        ] = {}

    def add(
        self,
        original: str,
        steps: npt.ArrayLike,
        values: npt.ArrayLike,
        wall_times: npt.ArrayLike | None = None,
    ) -> None:
        """Append points of one metric (in the order they were written)."""
        s = np.asarray(steps, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        w = None if wall_times is None else np.asarray(wall_times, dtype=np.float64)
        if s.shape != v.shape or (w is not None and w.shape != s.shape):
            raise ValueError(f"{original}: steps, values and wall times differ in length")
        self._columns.setdefault(original, []).append((s, v, w))

    def originals(self) -> list[str]:
        return list(self._columns)

    def build(self, run: Run) -> Run:
        """Fill ``run.series`` (sorted, de-duplicated, normalized names) and its warnings; the
        builder is emptied (call it once)."""
        for original in list(self._columns):
            # Each metric's parts are dropped once joined: peak memory is the points once, plus
            # one metric's copy.
            parts = self._columns.pop(original)
            steps = np.concatenate([p[0] for p in parts])
            values = np.concatenate([p[1] for p in parts])
            walls = None
            if all(p[2] is not None for p in parts):
                walls = np.concatenate([p[2] for p in parts if p[2] is not None])
            del parts
            if steps.shape[0] == 0:
                continue
            steps, values, walls, message = _sort_dedupe(original, steps, values, walls)
            if message:
                run.warnings.append(message)
            name = normalize_metric_name(original)
            if name in run.series:
                other = run.series[name].original
                fallback = original.strip().lower()
                run.warnings.append(
                    f"metrics {other!r} and {original!r} both normalize to {name!r}; "
                    f"{original!r} is kept as {fallback!r}"
                )
                name = fallback
            run.series[name] = Series(name, original, steps, values, walls)
        return run


def _sort_dedupe(
    original: str,
    steps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    walls: npt.NDArray[np.float64] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None, str]:
    if steps.shape[0] > 1 and bool(np.any(steps[1:] < steps[:-1])):
        order = np.argsort(steps, kind="stable")  # stable: equal steps stay in written order
        steps, values = steps[order], values[order]
        walls = None if walls is None else walls[order]
    if steps.shape[0] < 2:
        return steps, values, walls, ""
    same = steps[1:] == steps[:-1]
    if not bool(same.any()):
        return steps, values, walls, ""
    keep = np.ones(steps.shape[0], dtype=bool)
    keep[:-1] = ~same  # of each group of equal steps keep the last one written
    v_next = values[1:]
    v_prev = values[:-1]
    differs = same & ~((v_next == v_prev) | (np.isnan(v_next) & np.isnan(v_prev)))
    message = ""
    if bool(differs.any()):
        where = np.flatnonzero(differs)
        first = int(steps[where[0]])
        message = (
            f"{original}: {where.shape[0]} step(s) were written more than once with different "
            f"values (first at step {first}); kept the last value written for each "
            "(a resumed run rewrites steps)"
        )
    return steps[keep], values[keep], None if walls is None else walls[keep], message


__all__ = ["Reader", "SeriesBuilder", "run_name_for"]
