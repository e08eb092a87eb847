"""MLflow tracking stores: the SQLite database and the older file store.

* SQLite (``mlflow.db``, any SQLite file with MLflow's ``metrics`` table), opened read-only
  through stdlib ``sqlite3``: ``metrics(key, value, timestamp, step, run_uuid, is_nan)``; run names
  from ``runs.name`` (else the ``mlflow.runName`` tag). NaN is stored as ``value=0, is_nan=1`` and
  +-Inf as +-max float: both are turned back. Deleted runs are left out.
* File store: ``mlruns/<experiment_id>/<run_id>/metrics/<key>`` (keys with ``/`` are nested
  folders), each line ``<timestamp ms> <value> <step>``; run names from
  ``tags/mlflow.runName`` or ``run_name:`` in ``meta.yaml``. A path may be the store, one
  experiment or one run directory.

Several values at one step (``log_metric`` twice) keep the last one logged (by timestamp).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_MAX = sys.float_info.max


class MlflowReader(Reader):
    format = "mlflow"
    claims_subtree = True

    def detect(self, path: Path) -> bool:
        if path.is_file():
            return path.name.lower().endswith(_SQLITE_SUFFIXES) and _is_mlflow_db(path)
        if path.is_dir():
            return _is_run_dir(path) or _is_experiment_dir(path) or _is_store(path)
        return False

    def read(self, path: Path) -> list[Run]:
        if path.is_file():
            return _read_sqlite(path)
        if _is_run_dir(path):
            run_dirs = [path]
        elif _is_experiment_dir(path):
            run_dirs = [d for d in sorted(path.iterdir()) if _is_run_dir(d)]
        else:
            run_dirs = [
                r
                for e in sorted(path.iterdir())
                if _is_experiment_dir(e)
                for r in sorted(e.iterdir())
                if _is_run_dir(r)
            ]
        runs = [_read_run_dir(d) for d in run_dirs if not _is_deleted(d / "meta.yaml")]
        if not runs:
            raise CurveReadError(f"{path}: an MLflow file store with no (undeleted) runs")
        return runs


def _is_mlflow_db(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            if f.read(16) != _SQLITE_MAGIC:
                return False
    except OSError:
        return False
    try:
        with _connect(path) as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error:
        return False
    return {"metrics", "runs"} <= names


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _read_sqlite(path: Path) -> list[Run]:
    try:
        con = _connect(path)
    except sqlite3.Error as e:
        raise CurveReadError(f"{path}: cannot open SQLite database: {e}") from e
    try:
        runs_meta = _sqlite_runs(con)
        rows = con.execute(
            "SELECT run_uuid, key, step, value, is_nan, timestamp FROM metrics "
            # written order (the builder reads a step that goes back as a resume); points
            # logged in one millisecond (log_batch) are in step order
            "ORDER BY run_uuid, key, timestamp, step"
        ).fetchall()
    except sqlite3.Error as e:
        raise CurveReadError(f"{path}: not an MLflow tracking database: {e}") from e
    finally:
        con.close()
    by_run: dict[str, dict[str, list[tuple[int, float, float]]]] = {}
    for run_uuid, key, step, value, is_nan, ts in rows:
        v = float("nan") if is_nan else float(value)
        if v == _MAX:
            v = float("inf")
        elif v == -_MAX:
            v = float("-inf")
        by_run.setdefault(run_uuid, {}).setdefault(key, []).append((int(step), v, ts / 1000.0))
    out = []
    for run_uuid, (name, deleted) in runs_meta.items():
        if deleted:
            continue
        run = Run(name=name or run_uuid, source=f"{path}#{run_uuid}", format="mlflow")
        builder = SeriesBuilder()
        for key, points in by_run.get(run_uuid, {}).items():
            arr = np.array(points, dtype=np.float64)
            builder.add(key, arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2])
        out.append(builder.build(run))
    return out


def _sqlite_runs(con: sqlite3.Connection) -> dict[str, tuple[str, bool]]:
    columns = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    name_col = "name" if "name" in columns else "''"
    stage_col = "lifecycle_stage" if "lifecycle_stage" in columns else "'active'"
    runs = {
        uuid: (name or "", stage == "deleted")
        for uuid, name, stage in con.execute(
            f"SELECT run_uuid, {name_col}, {stage_col} FROM runs ORDER BY start_time, run_uuid"  # noqa: S608 - column names from PRAGMA, not input
        )
    }
    try:
        tags = con.execute("SELECT run_uuid, value FROM tags WHERE key = 'mlflow.runName'")
        for uuid, value in tags:
            if uuid in runs and not runs[uuid][0]:
                runs[uuid] = (value, runs[uuid][1])
    except sqlite3.Error:
        pass
    return runs


def _is_run_dir(d: Path) -> bool:
    return (d / "meta.yaml").is_file() and (d / "metrics").is_dir()


def _is_experiment_dir(d: Path) -> bool:
    return (
        d.is_dir()
        and (d / "meta.yaml").is_file()
        and not (d / "metrics").is_dir()
        and any(_is_run_dir(c) for c in d.iterdir() if c.is_dir())
    )


def _is_store(d: Path) -> bool:
    return any(_is_experiment_dir(c) for c in d.iterdir() if c.is_dir() and c.name != ".trash")


def _meta_field(meta: Path, field: str) -> str:
    try:
        lines = meta.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    prefix = field + ":"
    for line in lines:
        if line.startswith(prefix):
            return line[len(prefix) :].strip().strip("'\"")
    return ""


def _is_deleted(meta: Path) -> bool:
    return _meta_field(meta, "lifecycle_stage") == "deleted"


def _read_run_dir(d: Path) -> Run:
    name = ""
    tag = d / "tags" / "mlflow.runName"
    if tag.is_file():
        name = tag.read_text(encoding="utf-8").strip()
    name = name or _meta_field(d / "meta.yaml", "run_name") or d.name
    run = Run(name=name, source=str(d), format="mlflow")
    builder = SeriesBuilder()
    metrics = d / "metrics"
    for file in sorted(p for p in metrics.rglob("*") if p.is_file()):
        key = file.relative_to(metrics).as_posix()
        _read_metric_file(file, key, builder, run.warnings)
    return builder.build(run)


def _read_metric_file(file: Path, key: str, builder: SeriesBuilder, warnings: list[str]) -> None:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        warnings.append(f"{file}: cannot read: {e}")
        return
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()
        warnings.append(f"{file}: skipped the torn last line (no line end)")
    points: list[tuple[float, float, float]] = []
    bad = 0
    for line in lines:
        parts = line.split()
        try:
            ts, value = float(parts[0]), float(parts[1])
            step = float(parts[2]) if len(parts) > 2 else 0.0
        except (IndexError, ValueError):
            bad += 1
            continue
        points.append((ts, value, step))
    if bad:
        warnings.append(f"{file}: skipped {bad} line(s) that are not 'timestamp value step'")
    if not points:
        return
    arr = np.array(points, dtype=np.float64)
    order = np.argsort(arr[:, 0], kind="stable")  # by timestamp: the last logged wins
    arr = arr[order]
    builder.add(key, arr[:, 2].astype(np.int64), arr[:, 1], arr[:, 0] / 1000.0)


__all__ = ["MlflowReader"]
