"""Curve readers: training logs in many formats -> ``Run`` objects with numpy series.

::

    read_runs(path)                -> list[Run]   a file, a run directory, or a tree of runs
    read_run(path, format=None)    -> Run         exactly one run (CurveReadError otherwise)
    normalize_metric_name(name)    -> str         "eval_loss" -> "val/loss", "lr-AdamW" -> "lr"

Formats (``Run.format``): ``jsonl``, ``csv`` (Lightning ``CSVLogger`` included), ``tensorboard``,
``hf-trainer``, ``mlflow``. One ``Reader`` per format (``_base.Reader`` documents the contract),
tried in ``READERS`` order.

A directory is walked top-down: a directory a reader claims whole (an MLflow store, experiment or
run; a Hugging Face output directory) is read by it and not entered again; a directory holding
event files is a TensorBoard run (its subdirectories are looked at too, as TensorBoard does); the
other files are tried one by one. Hidden directories, virtual environments and caches are skipped.
A run named after its directory is named by that directory's path relative to the walked root
(``a/train``), as TensorBoard does.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlpilot.errors import CurveReadError, InvalidArgument
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader
from dlpilot.tools.curves.readers._csv import CsvReader
from dlpilot.tools.curves.readers._hf_trainer import HfTrainerReader
from dlpilot.tools.curves.readers._jsonl import JsonlReader
from dlpilot.tools.curves.readers._layout import join_split_dirs, read_test_as_dev
from dlpilot.tools.curves.readers._mlflow import MlflowReader
from dlpilot.tools.curves.readers._names import normalize_metric_name
from dlpilot.tools.curves.readers._tensorboard import TensorBoardReader

READERS: list[Reader] = [
    MlflowReader(),
    HfTrainerReader(),
    TensorBoardReader(),
    CsvReader(),
    JsonlReader(),
]
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "wandb", ".git"}
_MAX_DIRS = 20_000  # a walk that visits more directories than this stops with an error


def formats() -> list[str]:
    """The accepted ``format=`` values."""
    return [r.format for r in READERS]


def read_runs(path: str | os.PathLike[str]) -> list[Run]:
    """Every run found at ``path`` (file, run directory, or a directory of runs)."""
    root = Path(path)
    if not root.exists():
        raise CurveReadError(f"{root}: no such file or directory")
    if root.is_file():
        reader = _reader_for(root)
        if reader is None:
            raise CurveReadError(f"{root}: not a metrics file of a known format ({_known()})")
        return _roles(reader.read(root))
    runs: list[Run] = []
    sources: list[Path] = []
    failures: list[str] = []
    _walk(root, runs, sources, failures)
    if not runs:
        if failures:
            raise CurveReadError("; ".join(failures))
        raise CurveReadError(f"{root}: no metrics found ({_known()})")
    runs[0].warnings.extend(f"skipped a source that could not be read: {f}" for f in failures)
    join_split_dirs(runs, sources, root)
    _name_runs(runs, sources, root)
    return _roles(runs)


def _roles(runs: list[Run]) -> list[Run]:
    for run in runs:
        read_test_as_dev(run)
    return runs


def read_run(path: str | os.PathLike[str], format: str | None = None) -> Run:
    """The one run at ``path``; ``format`` (one of ``formats()``) skips detection."""
    p = Path(path)
    if format is None:
        runs = read_runs(p)
    else:
        reader = next((r for r in READERS if r.format == format), None)
        if reader is None:
            raise InvalidArgument(f"format={format!r}: expected one of {', '.join(formats())}")
        if not p.exists():
            raise CurveReadError(f"{p}: no such file or directory")
        runs = _roles(reader.read(p))
    if len(runs) != 1:
        names = ", ".join(r.name for r in runs[:10])
        raise CurveReadError(f"{p} holds {len(runs)} runs ({names}); use read_runs")
    return runs[0]


def _known() -> str:
    return "looked for " + ", ".join(formats())


def _reader_for(path: Path) -> Reader | None:
    return next((r for r in READERS if r.detect(path)), None)


def _read_into(
    reader: Reader,
    path: Path,
    source: Path,
    runs: list[Run],
    sources: list[Path],
    failures: list[str],
) -> None:
    try:
        found = reader.read(path)
    except CurveReadError as e:
        failures.append(str(e))
        return
    runs.extend(found)
    sources.extend([source] * len(found))


def _walk(root: Path, runs: list[Run], sources: list[Path], failures: list[str]) -> None:
    visited = 0
    for dirpath, dirnames, filenames in os.walk(root):
        visited += 1
        if visited > _MAX_DIRS:
            raise CurveReadError(f"{root}: more than {_MAX_DIRS} directories; name a narrower path")
        here = Path(dirpath)
        claimed = False
        for reader in READERS:
            if reader.detect(here):
                _read_into(reader, here, here, runs, sources, failures)
                claimed = True
                if reader.claims_subtree:
                    dirnames[:] = []
                    break
        if claimed and not dirnames:
            continue
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS and d != "venv"
        )
        if claimed:
            continue  # a TensorBoard run directory: its own files are read already
        for name in sorted(filenames):
            file = here / name
            file_reader = _reader_for(file)
            if file_reader is None:
                continue
            source = file.parent if file.parent != root else file
            _read_into(file_reader, file, source, runs, sources, failures)


def _name_runs(runs: list[Run], sources: list[Path], root: Path) -> None:
    """Runs named after their directory get its path relative to the root ("a/train", as
    TensorBoard names them); names that still collide get the file name added."""
    for run, source in zip(runs, sources, strict=True):
        if source != root and run.name == source.name:
            run.name = source.relative_to(root).as_posix()
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
    for run, source in zip(runs, sources, strict=True):
        if seen[run.name] > 1:
            rel = source.relative_to(root).as_posix() if source != root else root.name
            run.name = (
                f"{rel}: {run.name}" if rel != run.name else f"{rel} ({Path(run.source).name})"
            )


__all__ = ["READERS", "Reader", "formats", "normalize_metric_name", "read_run", "read_runs"]
