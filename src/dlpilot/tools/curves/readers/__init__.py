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

``guard`` (optional, a :data:`~dlpilot.tools.control.PathGuard`: the server passes its roots'):
every file met on the walk and every link inside a directory a reader reads whole is checked
with it, after resolving links, before anything is read; a source that leads outside is skipped
and named in the warnings (or, when nothing else is left, in the error).
"""

from __future__ import annotations

import os
from pathlib import Path

from dlpilot.errors import CurveReadError, InvalidArgument
from dlpilot.tools.control import PathGuard
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


def read_runs(path: str | os.PathLike[str], *, guard: PathGuard | None = None) -> list[Run]:
    """Every run found at ``path`` (file, run directory, or a directory of runs); ``guard``:
    see the module docstring."""
    root = Path(path)
    if guard is not None:
        guard(root)
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
    _walk(root, runs, sources, failures, guard)
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
        if not any(len(s) for s in run.series.values()):
            # a 0-byte event file, a CSV with only its header: read, but there is nothing in it
            run.warnings.append(
                f"{run.source}: holds no data (no metric points: an empty file, or only a header)"
            )
    return runs


def read_run(
    path: str | os.PathLike[str], format: str | None = None, *, guard: PathGuard | None = None
) -> Run:
    """The one run at ``path``; ``format`` (one of ``formats()``) skips detection."""
    p = Path(path)
    if format is None:
        runs = read_runs(p, guard=guard)
    else:
        reader = next((r for r in READERS if r.format == format), None)
        if reader is None:
            raise InvalidArgument(f"format={format!r}: expected one of {', '.join(formats())}")
        if not p.exists():
            raise CurveReadError(f"{p}: no such file or directory")
        if guard is not None:
            _check_links(p, guard)
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
    guard: PathGuard | None,
) -> None:
    try:
        if guard is not None:
            _check_links(path, guard)
        found = reader.read(path)
    except (CurveReadError, InvalidArgument) as e:  # InvalidArgument: the guard refused it
        failures.append(str(e))
        return
    runs.extend(found)
    sources.extend([source] * len(found))


def _check_links(path: Path, guard: PathGuard) -> None:
    """Guard ``path`` and, for a directory, every link below it (a reader reading a directory
    whole opens what it finds there; links are the only way out of a directory inside a root)."""
    guard(path)
    if not path.is_dir():
        return
    walk = os.walk(path)  # links to directories are not entered
    for visited, (dirpath, dirnames, filenames) in enumerate(walk, start=1):
        if visited > _MAX_DIRS:
            raise CurveReadError(f"{path}: more than {_MAX_DIRS} directories; name a narrower path")
        for name in (*dirnames, *filenames):
            entry = Path(dirpath) / name
            if entry.is_symlink():
                guard(entry)


def _walk(
    root: Path,
    runs: list[Run],
    sources: list[Path],
    failures: list[str],
    guard: PathGuard | None = None,
) -> None:
    visited = 0
    for dirpath, dirnames, filenames in os.walk(root):
        visited += 1
        if visited > _MAX_DIRS:
            raise CurveReadError(f"{root}: more than {_MAX_DIRS} directories; name a narrower path")
        here = Path(dirpath)
        claimed = False
        for reader in READERS:
            if reader.detect(here):
                _read_into(reader, here, here, runs, sources, failures, guard)
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
            if guard is not None and file.is_symlink():
                try:
                    guard(file)  # before detect(), which reads a few header bytes
                except InvalidArgument as e:
                    failures.append(str(e))
                    continue
            file_reader = _reader_for(file)
            if file_reader is None:
                continue
            source = file.parent if file.parent != root else file
            _read_into(file_reader, file, source, runs, sources, failures, guard)


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
