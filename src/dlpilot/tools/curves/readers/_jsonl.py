"""JSON Lines metrics (``*.jsonl``, ``*.ndjson``), dlpilot's own trial logs included.

One JSON object per line: a step key and metric keys, e.g.
``{"step": 10, "train_loss": 0.52, "lr": 0.001}``. The step is the first of ``step``,
``global_step``, ``iteration``, ``iter``, ``epoch`` that a line holds as a whole number (with none,
the line's position is used and a warning says so). ``wall_time`` / ``timestamp`` / ``time`` give
wall times. Values that are not numbers (strings, bools, lists, null) are skipped; JSON's
``NaN`` / ``Infinity`` are kept, since a non-finite loss is a finding.

A line that is not JSON (a torn last line of a run still being written, or damage) is skipped with
a warning naming the file and line.

The file is streamed in blocks of about 1 MiB of whole lines. A block is parsed by one
``json.loads`` of its lines joined into an array (C speed; taken only when it gives exactly one
object per line), else line by line. Each block's rows are turned into per-metric number columns
at once (``_Columns``), so memory follows the numbers kept, not the text or the row objects.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from itertools import compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder, run_name_for

STEP_KEYS = ("step", "global_step", "iteration", "iter", "epoch")
TIME_KEYS = ("wall_time", "timestamp", "time")
_SUFFIXES = (".jsonl", ".ndjson")
_BLOCK = 1 << 20  # bytes read at a time (whole lines): bounds the text and row objects held


class JsonlReader(Reader):
    format = "jsonl"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.name.lower().endswith(_SUFFIXES)

    def read(self, path: Path) -> list[Run]:
        run = Run(name=run_name_for(path), source=str(path), format=self.format)
        lines = _Lines()
        columns = _Columns()
        try:
            with path.open("rb") as f:
                for text in _blocks(f):
                    columns.feed(lines.parse(text))
        except OSError as e:
            raise CurveReadError(f"{path}: cannot read JSON Lines file: {e}") from e
        if columns.rows == 0 and lines.content:
            raise CurveReadError(f"{path}: no line is a JSON object")
        lines.report(path, run.warnings)
        builder = SeriesBuilder()
        columns.finish(builder, path, run.warnings)
        return [builder.build(run)]


def _blocks(f: BinaryIO) -> Iterator[str]:
    """Text of whole lines, about ``_BLOCK`` bytes at a time; the last block may lack its line
    end (a torn last line)."""
    carry = b""
    while True:
        block = f.read(_BLOCK)
        if not block:
            if carry:
                yield carry.decode("utf-8", "replace")
            return
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data  # a line longer than a block: read on
            continue
        carry = data[cut:]
        # A block cut after b"\n" never splits a UTF-8 sequence.
        yield data[:cut].decode("utf-8", "replace")


class _Lines:
    """Parses blocks of lines into objects and remembers what it skipped, by line number."""

    def __init__(self) -> None:
        self.lines = 0  # lines seen so far
        self.bad_first = 0
        self.bad_count = 0
        self.bad_last = 0
        self.not_objects = 0
        self.content = False  # any line that is not blank
        self.ends_with_newline = True

    def parse(self, text: str) -> list[dict[str, object]]:
        self.ends_with_newline = text.endswith("\n")
        body = text[:-1] if self.ends_with_newline else text
        count = body.count("\n") + 1
        first_line = self.lines + 1
        self.lines += count
        parsed: list[object] | None = None
        if body:
            try:
                # One C-level parse of the block: several times faster than a loads() per line.
                got = json.loads("[" + body.replace("\n", ",") + "]")
            except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep
                got = None
            if isinstance(got, list) and len(got) == count:
                parsed = got
        if parsed is None:
            parsed = self._one_by_one(body, first_line)
        else:
            self.content = True
        if set(map(type, parsed)) <= {dict}:
            return parsed  # type: ignore[return-value]  # checked: every element is a dict
        rows = [r for r in parsed if type(r) is dict]
        self.not_objects += len(parsed) - len(rows)
        return rows

    def _one_by_one(self, body: str, first_line: int) -> list[object]:
        parsed: list[object] = []
        loads = json.loads
        for number, line in enumerate(body.split("\n"), start=first_line):
            if not line.strip():
                continue
            self.content = True
            try:
                parsed.append(loads(line))
            except (json.JSONDecodeError, RecursionError):
                if not self.bad_count:
                    self.bad_first = number
                self.bad_count += 1
                self.bad_last = number
        return parsed

    def report(self, path: Path, warnings: list[str]) -> None:
        if self.bad_count:
            torn = (
                self.bad_count == 1 and self.bad_last == self.lines and not self.ends_with_newline
            )
            where = (
                f"line {self.bad_first}"
                if self.bad_count == 1
                else f"lines {self.bad_first}, ... ({self.bad_count} lines)"
            )
            warnings.append(
                f"{path}: skipped {where} that is not valid JSON (or nested too deeply to read)"
                + (" (a torn last line: the file may still be being written)" if torn else "")
            )
        if self.not_objects:
            warnings.append(f"{path}: skipped {self.not_objects} line(s) that are not objects")


def add_columns(
    rows: list[dict[str, object]], builder: SeriesBuilder, path: Path, warnings: list[str]
) -> None:
    """Turn a list of row dicts (step key + metric keys) into series on ``builder``."""
    columns = _Columns()
    columns.feed(rows)
    columns.finish(builder, path, warnings)


class _Missing:
    """A key a row does not hold (JSON ``null`` is ``None``, a value that is not a number)."""


_MISSING = _Missing()
_NUMBER, _OTHER, _ABSENT = 1, 0, 2
_KIND: defaultdict[type, int] = defaultdict(int, {int: _NUMBER, float: _NUMBER, _Missing: _ABSENT})


class _Column:
    """One key's numbers: per fed block, (rows holding a number, their values as float64)."""

    def __init__(self, key: str) -> None:
        self.rows: list[npt.NDArray[np.int64]] = []
        self.values: list[npt.NDArray[np.float64]] = []
        # A step key candidate: every row holding the key holds a whole number; kept exactly.
        self.whole = key in STEP_KEYS
        self.steps: list[npt.NDArray[np.int64]] = []

    def add(self, cells: list[object], start: int) -> None:
        n = len(cells)
        kinds = set(map(type, cells))
        if str in kinds:  # "nan", "inf", "0.25": numbers some loggers write as strings
            cells = [_number_word(c) if type(c) is str else c for c in cells]
            kinds = set(map(type, cells))
        if kinds <= {int, float}:
            rows = np.arange(start, start + n, dtype=np.int64)
            numbers = cells
        else:
            kind = np.fromiter(map(_KIND.__getitem__, map(type, cells)), dtype=np.int8, count=n)
            if self.whole and bool((kind == _OTHER).any()):
                self._not_whole()
            mask = kind == _NUMBER
            rows = np.flatnonzero(mask) + start
            numbers = list(compress(cells, mask.tolist()))
        if not numbers:
            return
        values = np.array(numbers, dtype=np.float64)
        if self.whole:
            if float in kinds:
                finite = np.isfinite(values)
                if not bool(finite.all()) or bool((values % 1 != 0).any()):
                    self._not_whole()
                else:
                    self.steps.append(values.astype(np.int64))
            else:
                try:
                    self.steps.append(np.array(numbers, dtype=np.int64))
                except OverflowError:
                    self._not_whole()
        self.rows.append(rows)
        self.values.append(values)

    def _not_whole(self) -> None:
        self.whole = False
        self.steps = []

    def joined(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if not self.rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        rows, values = np.concatenate(self.rows), np.concatenate(self.values)
        self.rows, self.values = [], []
        return rows, values


def _number_word(text: str) -> object:
    """A string that spells a number (``"nan"``, ``"-Infinity"``, ``"0.25"``) as a float; any
    other string as it is."""
    try:
        return float(text)
    except ValueError:
        return text


def _keys_in_order(rows: list[dict[str, object]]) -> list[str]:
    """Every key of the rows, in the order a row-by-row walk meets them first."""
    first = list(rows[0])
    extra = set().union(*rows).difference(first)
    if not extra:
        return first
    seen = set(first)
    keys = first
    for row in rows:
        if len(extra) == 0:
            break
        if not seen.issuperset(row):
            new = [k for k in row if k not in seen]
            keys.extend(new)
            seen.update(new)
            extra.difference_update(new)
    return keys


class _Columns:
    """Row dicts, fed in blocks, as number columns per key (in the order keys first appear)."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: dict[str, _Column] = {}

    def feed(self, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        keys = _keys_in_order(rows)
        every_row = set(map(len, rows)) == {len(keys)}  # then each row holds every key
        for key in keys:
            column = self.columns.get(key)
            if column is None:
                column = self.columns[key] = _Column(key)
            if every_row:
                cells: list[object] = list(map(itemgetter(key), rows))
            else:
                cells = list(map(dict.get, rows, repeat(key), repeat(_MISSING)))
            column.add(cells, self.rows)
        self.rows += len(rows)

    def finish(self, builder: SeriesBuilder, path: Path, warnings: list[str]) -> None:
        n = self.rows
        if n == 0:
            return
        step_key = next((k for k in STEP_KEYS if k in self.columns and self.columns[k].whole), None)
        has_step: npt.NDArray[np.bool_] | None = None
        if step_key is None:
            steps = np.arange(n, dtype=np.int64)
            warnings.append(
                f"{path}: no step key ({', '.join(STEP_KEYS)}) holding whole numbers; "
                "used each row's position as its step"
            )
        else:
            column = self.columns[step_key]
            at, _ = column.joined()
            steps = np.zeros(n, dtype=np.int64)
            steps[at] = np.concatenate(column.steps) if column.steps else 0
            column.steps = []
            if at.shape[0] != n:
                warnings.append(f"{path}: skipped {n - at.shape[0]} row(s) without {step_key!r}")
                has_step = np.zeros(n, dtype=bool)
                has_step[at] = True
        time_key = next((k for k in TIME_KEYS if k in self.columns), None)
        walls: npt.NDArray[np.float64] | None = None
        if time_key is not None:
            at, values = self.columns[time_key].joined()
            holds = np.zeros(n, dtype=bool)
            holds[at] = True
            if bool(holds.all() if has_step is None else holds[has_step].all()):
                walls = np.zeros(n, dtype=np.float64)
                walls[at] = values
        for key, column in self.columns.items():
            if key in (step_key, time_key):
                continue
            at, values = column.joined()
            if has_step is not None:
                keep = has_step[at]
                at, values = at[keep], values[keep]
            if at.shape[0] == 0:
                continue
            builder.add(key, steps[at], values, None if walls is None else walls[at])


__all__ = ["JsonlReader", "add_columns"]
