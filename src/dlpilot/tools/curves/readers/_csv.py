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
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder, run_name_for
from dlpilot.tools.curves.readers._jsonl import STEP_KEYS, TIME_KEYS


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
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as e:
            raise CurveReadError(f"{path}: cannot read CSV file: {e}") from e
        run = Run(name=run_name_for(path), source=str(path), format=self.format)
        if '"' in text:  # quoted cells: the csv module; else a plain split is several times faster
            try:
                rows = [r for r in csv.reader(io.StringIO(text)) if r]
            except csv.Error as e:
                raise CurveReadError(f"{path}: not a readable CSV file: {e}") from e
        else:
            rows = [line.split(",") for line in text.splitlines() if line]
        if not rows:
            raise CurveReadError(f"{path}: empty CSV file (no header row)")
        header = [h.strip() for h in rows[0]]
        body = rows[1:]
        if body and text and not text.endswith(("\n", "\r")):
            body.pop()
            run.warnings.append(
                f"{path}: skipped the last line, which has no line end "
                "(a torn write: the file may still be being written)"
            )
        width = len(header)
        good = [r for r in body if len(r) == width]
        if len(good) != len(body):
            run.warnings.append(
                f"{path}: skipped {len(body) - len(good)} row(s) whose cell count differs "
                f"from the header's {width}"
            )
        builder = SeriesBuilder()
        if good:
            _add_columns(header, good, builder, path, run.warnings)
        return [builder.build(run)]


def _add_columns(
    header: list[str],
    rows: list[list[str]],
    builder: SeriesBuilder,
    path: Path,
    warnings: list[str],
) -> None:
    columns = list(zip(*rows, strict=True))
    lowered = [h.lower() for h in header]
    step_idx = next((lowered.index(k) for k in STEP_KEYS if k in lowered), None)
    if step_idx is None:
        steps = np.arange(len(rows), dtype=np.int64)
        step_ok = np.ones(len(rows), dtype=bool)
        warnings.append(
            f"{path}: no step column ({', '.join(STEP_KEYS)}); used each row's position as its step"
        )
    else:
        mask, values = _numbers(columns[step_idx])
        filled = _fill(mask, values)
        finite = np.isfinite(filled)
        step_ok = finite & (np.where(finite, filled, 0.0) % 1 == 0)
        if not bool(step_ok.any()):
            raise CurveReadError(
                f"{path}: the step column {header[step_idx]!r} holds no whole numbers"
            )
        if not bool(step_ok.all()):
            warnings.append(
                f"{path}: skipped {int((~step_ok).sum())} row(s) without a whole-number "
                f"{header[step_idx]!r}"
            )
        steps = np.where(step_ok, filled, 0.0).astype(np.int64)
    time_idx = next((lowered.index(k) for k in TIME_KEYS if k in lowered), None)
    walls = None
    if time_idx is not None:
        t_mask, t_values = _numbers(columns[time_idx])
        if bool(t_mask.all()):
            walls = t_values
    for i, name in enumerate(header):
        if i in (step_idx, time_idx) or not name:
            continue
        mask, values = _numbers(columns[i])
        keep = mask & step_ok
        if not bool(keep.any()):
            continue
        vals = _fill(mask, values)[keep]
        builder.add(name, steps[keep], vals, None if walls is None else walls[keep])


def _numbers(cells: tuple[str, ...]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
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
