"""JSON Lines metrics (``*.jsonl``, ``*.ndjson``), dlpilot's own trial logs included.

One JSON object per line: a step key and metric keys, e.g.
``{"step": 10, "train_loss": 0.52, "lr": 0.001}``. The step is the first of ``step``,
``global_step``, ``iteration``, ``iter``, ``epoch`` that a line holds as a whole number (with none,
the line's position is used and a warning says so). ``wall_time`` / ``timestamp`` / ``time`` give
wall times. Values that are not numbers (strings, bools, lists, null) are skipped; JSON's
``NaN`` / ``Infinity`` are kept, since a non-finite loss is a finding.

A line that is not JSON (a torn last line of a run still being written, or damage) is skipped with
a warning naming the file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder, run_name_for

STEP_KEYS = ("step", "global_step", "iteration", "iter", "epoch")
TIME_KEYS = ("wall_time", "timestamp", "time")
_SUFFIXES = (".jsonl", ".ndjson")


class JsonlReader(Reader):
    format = "jsonl"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.name.lower().endswith(_SUFFIXES)

    def read(self, path: Path) -> list[Run]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise CurveReadError(f"{path}: cannot read JSON Lines file: {e}") from e
        run = Run(name=run_name_for(path), source=str(path), format=self.format)
        rows = _parse_lines(text, path, run.warnings)
        if not rows and text.strip():
            raise CurveReadError(f"{path}: no line is a JSON object")
        builder = SeriesBuilder()
        add_columns(rows, builder, path, run.warnings)
        return [builder.build(run)]


def _parse_lines(text: str, path: Path, warnings: list[str]) -> list[dict[str, object]]:
    lines = text.splitlines()
    kept = [ln for ln in lines if ln.strip()]
    try:
        # One C-level parse of the whole file: several times faster than a loads() per line.
        parsed = json.loads("[" + ",".join(kept) + "]")
    except json.JSONDecodeError:
        parsed = None
    if parsed is None:
        parsed = []
        bad: list[int] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                bad.append(number)
        if bad:
            last = len(lines)
            torn = bad == [last] and not text.endswith("\n")
            where = f"line {bad[0]}" if len(bad) == 1 else f"lines {bad[0]}, ... ({len(bad)} lines)"
            warnings.append(
                f"{path}: skipped {where} that is not valid JSON"
                + (" (a torn last line: the file may still be being written)" if torn else "")
            )
    rows = [r for r in parsed if isinstance(r, dict)]
    if len(rows) != len(parsed):
        warnings.append(f"{path}: skipped {len(parsed) - len(rows)} line(s) that are not objects")
    return rows


def add_columns(
    rows: list[dict[str, object]], builder: SeriesBuilder, path: Path, warnings: list[str]
) -> None:
    """Turn a list of row dicts (step key + metric keys) into series on ``builder``."""
    if not rows:
        return
    keys: dict[str, None] = {}
    for row in rows:
        if len(row) != len(keys) or row.keys() - keys.keys():
            keys.update(dict.fromkeys(row))
    step_key = next((k for k in STEP_KEYS if k in keys and _whole_where_present(rows, k)), None)
    if step_key is None:
        steps = np.arange(len(rows), dtype=np.int64)
        warnings.append(
            f"{path}: no step key ({', '.join(STEP_KEYS)}) holding whole numbers; "
            "used each row's position as its step"
        )
    else:
        with_step = [r for r in rows if step_key in r]
        if len(with_step) != len(rows):
            warnings.append(
                f"{path}: skipped {len(rows) - len(with_step)} row(s) without {step_key!r}"
            )
            rows = with_step
        steps = np.array([r[step_key] for r in rows], dtype=np.int64)
    time_key = next((k for k in TIME_KEYS if k in keys), None)
    walls = None
    if time_key is not None:
        w = _column(rows, time_key)
        walls = w[1] if w is not None and w[0] is None else None
    for key in keys:
        if key in (step_key, time_key):
            continue
        col = _column(rows, key)
        if col is None:
            continue
        mask, values = col
        if mask is None:
            builder.add(key, steps, values, walls)
        else:
            builder.add(key, steps[mask], values, None if walls is None else walls[mask])


def _whole_where_present(rows: list[dict[str, object]], key: str) -> bool:
    for r in rows:
        v = r.get(key, 0)
        if type(v) is int or (type(v) is float and v.is_integer()):
            continue
        return False
    return True


def _column(rows: list[dict[str, object]], key: str) -> tuple[np.ndarray | None, np.ndarray] | None:
    """(mask of rows holding a number or None for all, the numbers) or None if there are none."""
    cells = [r.get(key) for r in rows]
    types = set(map(type, cells))
    if types <= {int, float}:
        return None, np.array(cells, dtype=np.float64)
    mask = np.fromiter((type(c) is float or type(c) is int for c in cells), dtype=bool)
    if not bool(mask.any()):
        return None
    values = np.array([c for c in cells if type(c) is float or type(c) is int], dtype=np.float64)
    return mask, values


__all__ = ["JsonlReader", "add_columns"]
