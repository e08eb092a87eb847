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

Series are built through ``SeriesBuilder``, which replays each metric's points in the order they
were written and normalizes names. A step lower than the one before is a resumed run continuing
from that step (a restart from a checkpoint, in the same file or in the next event file): every
earlier point at or after it is dropped, the overlap and the tail of the segment that stopped
alike, so a restart is never read as a trend; ``Run.resumed_at`` keeps the steps and a note on
``Run.warnings`` says so. Of points written twice at one step the last wins. Readers therefore
hand points over in the order the log wrote them (file order; MLflow's timestamps).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
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
        found: list[tuple[str, list[_Resume], int]] = []
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
            steps, values, walls, message, resumes = _sort_dedupe(original, steps, values, walls)
            if message:
                run.warnings.append(message)
            if resumes:
                found.append((original, resumes, int(steps.shape[0])))
            name = normalize_metric_name(original)
            if name in run.series:
                other = run.series[name].original
                fallback = original.strip().lower()
                run.warnings.append(
                    f"metrics {other!r} and {original!r} both normalize to {name!r}; "
                    f"{original!r} is kept as {fallback!r}"
                )
                name = fallback
            run.series[name] = Series(
                name, original, steps, values, walls, [r.step for r in resumes]
            )
        if found:
            run.warnings[:0] = _resume_notes(found)
            run.resumed_at = sorted({r.step for r in min(found, key=_rank)[1]})
        return run


# A step counter that goes back to the series' first step this many times or more is more
# likely restarted every epoch (a per-epoch batch index logged as the step) than resumed each
# time; the points are still read as resumes, and the warning says what to log instead.
RESTARTING_COUNTER_MIN = 3


@dataclass
class _Resume:
    """Where one series' step counter went back: from ``back_from`` to ``step``."""

    step: int
    back_from: int
    dropped: int  # points dropped by this resume (of earlier segments, at or after ``step``)


def _replay(
    steps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    walls: npt.NDArray[np.float64] | None,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64] | None,
    list[_Resume],
]:
    """Replay points in the order they were written: a step lower than the one before starts a
    resumed segment, which continues from that step, so every earlier point at or after it is
    dropped (the overlap is rewritten by the resumed segment, the crashed tail beyond it never
    happened to the model that went on training). Where wall times are known, a point written
    earlier than the one before it is a late write, not a resume. The result is sorted by step."""
    back = np.flatnonzero(steps[1:] < steps[:-1]) + 1
    if walls is not None and back.shape[0]:
        # a point whose wall time is earlier than the one before was written late (several
        # writers, a buffered logger), not by a resumed run: it is sorted in below
        back = back[~(walls[back] < walls[back - 1])]
    if back.shape[0] == 0:
        return (*_by_step(steps, values, walls), [])
    keep = np.ones(steps.shape[0], dtype=bool)
    resumes = []
    for i in back.tolist():
        r = int(steps[i])
        dropped = keep[:i] & (steps[:i] >= r)
        keep[:i] &= ~dropped
        resumes.append(_Resume(r, int(steps[i - 1]), int(np.count_nonzero(dropped))))
    walls = None if walls is None else walls[keep]
    return (*_by_step(steps[keep], values[keep], walls), resumes)


def _by_step(
    steps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    walls: npt.NDArray[np.float64] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    if steps.shape[0] > 1 and bool(np.any(steps[1:] < steps[:-1])):
        order = np.argsort(steps, kind="stable")  # stable: equal steps stay in written order
        steps, values = steps[order], values[order]
        walls = None if walls is None else walls[order]
    return steps, values, walls


def _sort_dedupe(
    original: str,
    steps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    walls: npt.NDArray[np.float64] | None,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64] | None,
    str,
    list[_Resume],
]:
    steps, values, walls, resumes = _replay(steps, values, walls)
    if steps.shape[0] < 2:
        return steps, values, walls, "", resumes
    same = steps[1:] == steps[:-1]
    if not bool(same.any()):
        return steps, values, walls, "", resumes
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
            f"values (first at step {first}); kept the last value written for each"
        )
    return steps[keep], values[keep], None if walls is None else walls[keep], message, resumes


def _rank(item: tuple[str, list[_Resume], int]) -> tuple[bool, int]:
    """Which metric speaks for a run's resumes: a metric before a counter (epoch, step), then
    the one with the most points."""
    return normalize_metric_name(item[0]) in ("epoch", "step"), -item[2]


def _resume_notes(found: list[tuple[str, list[_Resume], int]]) -> list[str]:
    """One note per distinct list of resume steps, naming the metrics that show it."""
    groups: dict[tuple[int, ...], list[tuple[str, list[_Resume], int]]] = {}
    for item in found:
        groups.setdefault(tuple(r.step for r in item[1]), []).append(item)
    notes = []
    for key, items in sorted(groups.items(), key=lambda kv: min(map(_rank, kv[1]))):
        items.sort(key=_rank)
        original, resumes, _ = items[0]
        where = ", ".join(f"from {r.back_from} back to {r.step}" for r in resumes)
        others = f" and {len(items) - 1} other metric(s)" if len(items) > 1 else ""
        dropped = sum(r.dropped for it in items for r in it[1])
        note = (
            f"resumed run: the step of {original!r}{others} went {where}; read as a "
            f"continuation from step{'s' if len(key) > 1 else ''} "
            f"{', '.join(str(k) for k in key)} (the resumed segment replaces the "
            f"{dropped} earlier point(s) logged at or after it, including the tail of the "
            "segment that stopped)"
        )
        first = min(int(s) for s in key)
        if len(key) >= RESTARTING_COUNTER_MIN and max(key) == first:
            note += (
                f"; the step went back to {first} {len(key)} times: if the step counter "
                "restarts every epoch, log a global step instead"
            )
        notes.append(note)
    return notes


__all__ = ["Reader", "SeriesBuilder", "run_name_for"]
