"""Incremental reading of a run that is still being written (a trial's metrics while it trains).

``TailReader(path).poll()`` returns the run as read so far, the same normalized ``Run`` that
:func:`~dlpilot.tools.curves.readers.read_runs` gives. JSON Lines and CSV files are read
incrementally: each poll reads only the bytes appended since the last one, up to the last whole
line (a torn last line waits for its end). Other formats, and directories, are read again whole,
but only when their size or modification time changed since the last poll.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import SeriesBuilder, run_name_for
from dlpilot.tools.curves.readers._jsonl import STEP_KEYS, TIME_KEYS, add_columns

_JSONL = (".jsonl", ".ndjson")
_MAX_READ = 64 << 20  # bytes read per poll at most: a flood of output is taken in parts


class TailReader:
    """Reads ``path`` (a file or a directory, which may not exist yet) as it grows."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._offset = 0
        self._carry = b""
        self._rows: list[dict[str, object]] = []
        self._header: list[str] | None = None
        self._signature: tuple[int, int] | None = None
        self._run: Run | None = None
        self.bytes_read = 0
        """Bytes read from disk so far (for tests and benchmarks of the incremental path)."""

    @property
    def incremental(self) -> bool:
        name = self.path.name.lower()
        return name.endswith(_JSONL) or name.endswith(".csv")

    def poll(self) -> Run | None:
        """The run as read so far; ``None`` while nothing readable is there yet."""
        if not self.path.exists():
            return self._run
        if self.incremental and self.path.is_file():
            if self._read_new():
                self._run = self._build()
            return self._run
        signature = _signature(self.path)
        if signature != self._signature:
            self._signature = signature
            self._run = self._read_whole()
        return self._run

    # --- incremental files --------------------------------------------------------------

    def _read_new(self) -> bool:
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size < self._offset:  # rewritten from the start: read it again
                    self._offset, self._carry, self._rows, self._header = 0, b"", [], None
                if size == self._offset:
                    return False
                f.seek(self._offset)
                data = f.read(min(size - self._offset, _MAX_READ))
        except OSError:
            return False
        self._offset += len(data)
        self.bytes_read += len(data)
        data = self._carry + data
        cut = data.rfind(b"\n") + 1
        self._carry = data[cut:]
        if cut == 0:
            return False
        lines = data[:cut].decode("utf-8", "replace").splitlines()
        before = len(self._rows)
        if self.path.name.lower().endswith(".csv"):
            self._csv_rows(lines)
        else:
            self._jsonl_rows(lines)
        return len(self._rows) != before

    def _jsonl_rows(self, lines: list[str]) -> None:
        for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                self._rows.append(row)

    def _csv_rows(self, lines: list[str]) -> None:
        for cells in csv.reader(lines):
            if not cells:
                continue
            if self._header is None:
                self._header = [_csv_key(c) for c in cells]
                continue
            if len(cells) != len(self._header):
                continue
            row: dict[str, object] = {}
            for key, cell in zip(self._header, cells, strict=True):
                if cell.strip():
                    try:
                        row[key] = float(cell)
                    except ValueError:
                        continue
            if row:
                self._rows.append(row)

    def _build(self) -> Run:
        run = Run(name=run_name_for(self.path), source=str(self.path), format=self._format())
        builder = SeriesBuilder()
        add_columns(self._rows, builder, self.path, run.warnings)
        return builder.build(run)

    def _format(self) -> str:
        return "csv" if self.path.name.lower().endswith(".csv") else "jsonl"

    # --- other formats --------------------------------------------------------------------

    def _read_whole(self) -> Run | None:
        from dlpilot.tools.curves.readers import read_runs

        try:
            runs = read_runs(self.path)
        except CurveReadError:
            return self._run
        return max(runs, key=lambda r: sum(len(s) for s in r.series.values()))


def _csv_key(cell: str) -> str:
    """Step and time columns are matched case-insensitively, as the CSV reader does."""
    low = cell.strip().lower()
    return low if low in STEP_KEYS or low in TIME_KEYS else cell.strip()


def _signature(path: Path) -> tuple[int, int]:
    """(total size, latest mtime in ns) of a file or of every file under a directory."""
    if path.is_file():
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    size, mtime = 0, 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            size += st.st_size
            mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


__all__ = ["TailReader"]
