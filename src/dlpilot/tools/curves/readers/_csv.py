"""CSV metrics: a header row, a step column and metric columns.

This covers PyTorch Lightning's ``CSVLogger`` (``<save_dir>/<name>/version_<n>/metrics.csv``):
columns sorted by name, ``step`` and ``epoch`` among them, and *sparse* rows (each row holds only
the metrics logged together, the other cells empty; ``train_loss_step`` and ``val_loss`` sit on
different rows of the same step). Each series takes the rows where its cell is filled.

The step column is the first of ``step``, ``global_step``, ``iteration``, ``iter``, ``epoch``
(case-insensitive) in the header; without one the row position is the step, with a warning.
Cells that are not numbers are skipped (``nan`` / ``inf`` are numbers and are kept).
A last line without its line end is a torn write of a run still in progress: it is skipped with
a warning, as are rows whose number of cells differs from the header's.

The file is streamed in blocks of about 1 MiB of whole lines; each block's cells become number
columns at once, so memory follows the numbers kept, not the text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from itertools import chain, islice, repeat
from pathlib import Path
from typing import TextIO, TypeAlias

import numpy as np
import numpy.typing as npt

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder, run_name_for
from dlpilot.tools.curves.readers._jsonl import STEP_KEYS, TIME_KEYS

_BLOCK = 1 << 20  # characters read at a time (whole lines): bounds the text and rows held
_ROWS = 20_000  # rows at a time once the csv module reads (quoted cells)
Walls: TypeAlias = "npt.NDArray[np.float64] | None"


class CsvReader(Reader):
    format = "csv"

    def detect(self, path: Path) -> bool:
        """A ``.csv`` file whose header names a step column (other CSVs are data, not logs)."""
        if not (path.is_file() and path.name.lower().endswith(".csv")):
            return False
        try:
            with path.open(encoding="utf-8-sig", errors="replace") as f:
                first = f.readline(1 << 16)
        except OSError:
            return False
        header = next(csv.reader([first]), [])
        return any(h.strip().lower() in STEP_KEYS for h in header)

    def read(self, path: Path) -> list[Run]:
        run = Run(name=run_name_for(path), source=str(path), format=self.format)
        try:
            with path.open("rb") as raw:
                torn = raw.seek(0, 2) > 0 and raw.seek(-1, 2) >= 0 and raw.read(1) not in b"\r\n"
            with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
                columns = _read_rows(f, path, torn, run.warnings)
        except OSError as e:
            raise CurveReadError(f"{path}: cannot read CSV file: {e}") from e
        except csv.Error as e:
            raise CurveReadError(f"{path}: not a readable CSV file: {e}") from e
        builder = SeriesBuilder()
        columns.finish(builder, path, run.warnings)
        return [builder.build(run)]


def _row_blocks(f: TextIO) -> Iterator[list[str] | list[list[str]]]:
    """The file's non-empty lines, about ``_BLOCK`` characters at a time, as text (lines without
    a quote: split at commas later, several times faster than the csv module); from the first
    quote on, rows from the csv module (a quoted cell may hold commas and line ends)."""
    while True:
        lines = f.readlines(_BLOCK)
        if not lines:
            return
        text = "".join(lines)
        if '"' in text:
            break
        yield list(filter(None, text.splitlines()))
    reader = csv.reader(chain(lines, f))
    while True:
        rows = list(islice(reader, _ROWS))
        if not rows:
            return
        yield [r for r in rows if r]


def _read_rows(f: TextIO, path: Path, torn: bool, warnings: list[str]) -> _Columns:
    blocks = _row_blocks(f)
    first = next(blocks, None)
    if not first:
        raise CurveReadError(f"{path}: empty CSV file (no header row)")
    head = first[0]
    columns = _Columns([h.strip() for h in (head.split(",") if isinstance(head, str) else head)])
    body = first[1:]
    for block in blocks:
        columns.feed(body)
        body = block
    if body and torn:
        body.pop()
        warnings.append(
            f"{path}: skipped the last line, which has no line end "
            "(a torn write: the file may still be being written)"
        )
    columns.feed(body)
    return columns


class _Columns:
    """Rows, fed in blocks, as (steps, values, wall times) parts per column."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.width = len(header)
        lowered = [h.lower() for h in header]
        self.step_idx = next((lowered.index(k) for k in STEP_KEYS if k in lowered), None)
        self.time_idx = next((lowered.index(k) for k in TIME_KEYS if k in lowered), None)
        self.rows = 0  # rows with the header's cell count
        self.skipped_width = 0
        self.step_ok = 0  # of those, rows with a whole-number step
        self.walls_ok = self.time_idx is not None
        self.parts: list[list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], Walls]]] = [
            [] for _ in header
        ]

    def feed(self, block: list[str] | list[list[str]]) -> None:
        """Take a block of lines (unquoted text) or of rows (from the csv module)."""
        if not block:
            return
        width = self.width
        columns: list[Sequence[str]]
        if isinstance(block[0], str):
            lines = block
            if set(map(str.count, lines, repeat(","))) == {width - 1}:
                # Every line has the header's cell count: split all at once, slice out columns.
                cells = ",".join(lines).split(",")
                n = len(lines)
                columns = [cells[i::width] for i in range(width)]
                del cells
            else:
                rows = [line.split(",") for line in lines]
                columns, n = self._columns(rows)
        else:
            columns, n = self._columns(block)
        if n == 0:
            return
        if self.step_idx is None:
            steps = np.arange(self.rows, self.rows + n, dtype=np.int64)
            step_ok = np.ones(n, dtype=bool)
        else:
            mask, values = _numbers(columns[self.step_idx])
            filled = _fill(mask, values)
            finite = np.isfinite(filled)
            step_ok = finite & (np.where(finite, filled, 0.0) % 1 == 0)
            steps = np.where(step_ok, filled, 0.0).astype(np.int64)
        self.rows += n
        self.step_ok += int(step_ok.sum())
        walls: Walls = None
        if self.walls_ok and self.time_idx is not None:
            t_mask, t_values = _numbers(columns[self.time_idx])
            if bool(t_mask.all()):
                walls = t_values
            else:
                self.walls_ok = False
                for parts in self.parts:  # wall times are kept only if every row has one
                    parts[:] = [(s, v, None) for s, v, _ in parts]
        for i, name in enumerate(self.header):
            if i in (self.step_idx, self.time_idx) or not name:
                continue
            mask, values = _numbers(columns[i])
            keep = mask & step_ok
            if not bool(keep.any()):
                continue
            vals = _fill(mask, values)[keep]
            self.parts[i].append((steps[keep], vals, None if walls is None else walls[keep]))

    def _columns(self, rows: list[list[str]]) -> tuple[list[Sequence[str]], int]:
        width = self.width
        if set(map(len, rows)) != {width}:
            good = [r for r in rows if len(r) == width]
            self.skipped_width += len(rows) - len(good)
            rows = good
        if not rows:
            return [], 0
        return list(zip(*rows, strict=True)), len(rows)

    def finish(self, builder: SeriesBuilder, path: Path, warnings: list[str]) -> None:
        if self.skipped_width:
            warnings.append(
                f"{path}: skipped {self.skipped_width} row(s) whose cell count differs "
                f"from the header's {self.width}"
            )
        if self.rows == 0:
            return
        if self.step_idx is None:
            warnings.append(
                f"{path}: no step column ({', '.join(STEP_KEYS)}); "
                "used each row's position as its step"
            )
        else:
            step_name = self.header[self.step_idx]
            if self.step_ok == 0:
                raise CurveReadError(
                    f"{path}: the step column {step_name!r} holds no whole numbers"
                )
            if self.step_ok != self.rows:
                warnings.append(
                    f"{path}: skipped {self.rows - self.step_ok} row(s) without a whole-number "
                    f"{step_name!r}"
                )
        for i, parts in enumerate(self.parts):
            for steps, values, walls in parts:
                builder.add(self.header[i], steps, values, walls)
            parts.clear()


def _numbers(cells: Sequence[str]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """(which cells hold a number, those numbers in order)."""
    mask = np.fromiter(map(bool, cells), dtype=bool, count=len(cells))  # "" is an empty cell
    try:
        # float() parses "nan", "inf", "1e-3" and surrounding spaces, at C speed through map().
        return mask, np.fromiter(map(float, filter(None, cells)), dtype=np.float64)
    except ValueError:
        pass
    out: list[float] = []
    for j in np.flatnonzero(mask).tolist():
        try:
            out.append(float(cells[j]))
        except ValueError:
            mask[j] = False
    return mask, np.array(out, dtype=np.float64)


def _fill(mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    full = np.full(mask.shape[0], np.nan)
    full[mask] = values
    return full


__all__ = ["CsvReader"]
