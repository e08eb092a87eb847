"""Where a round's study lives: its folder in the project and its Optuna storage.

Every study has a folder ``<project>/.dlpilot/trials/<study>/`` holding ``study.json`` (the round
as it was started and its storage), the trial directories (``trials/<number>/``), the runners'
leases and the detached runner's log. Its trials are kept in Optuna storage: by default an
embedded ``JournalStorage`` file in that folder (``journal.log``, multi-process safe; it opens in
``optuna-dashboard`` as it is), or any database URL Optuna takes (PostgreSQL above all, for
workers on several machines), through ``RDBStorage`` with heartbeats the runner records itself.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial

from dlpilot.errors import InvalidArgument, ProjectError
from dlpilot.tools.trials._lease import HOST, kill_trial_processes
from dlpilot.tools.trials._round import RoundFile

STUDIES_DIR = Path(".dlpilot") / "trials"
"""Under the project (the round's working directory): one folder per study."""

HEARTBEAT_INTERVAL_S = int(os.environ.get("DLPILOT_TRIALS_HEARTBEAT_S", "5"))
"""How often a runner records the heartbeat of each running trial in a database storage
(``$DLPILOT_TRIALS_HEARTBEAT_S`` overrides it, for tests and slow links)."""

HEARTBEAT_GRACE_S = int(os.environ.get("DLPILOT_TRIALS_HEARTBEAT_GRACE_S", "20"))
"""A database trial without a heartbeat for this long belongs to a dead worker: four missed
heartbeats, so a busy machine is not mistaken for a dead one
(``$DLPILOT_TRIALS_HEARTBEAT_GRACE_S`` overrides it)."""

OPEN_ATTEMPTS = 5
OPEN_RETRY_S = 0.5
"""Opening a fresh database that other workers are creating tables in is retried this many
times, waiting this long times the attempt: table creation takes a second or two."""

JOURNAL_NAME = "journal.log"
META_NAME = "study.json"


def studies_root(project: Path) -> Path:
    return project / STUDIES_DIR


def study_dir(project: Path, name: str) -> Path:
    """The folder of study ``name`` under ``project``."""
    return studies_root(project) / name


def trial_dir(folder: Path, number: int) -> Path:
    return folder / "trials" / f"{number:05d}"


def is_database(url: str) -> bool:
    return bool(url) and "://" in url


def open_storage(url: str, folder: Path) -> BaseStorage:
    """The embedded journal in ``folder`` when ``url`` is empty, else the database at ``url``
    with heartbeats (a trial whose worker stopped beating is failed and retried)."""
    if not url:
        folder.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(folder / JOURNAL_NAME)))
    if not is_database(url):
        raise InvalidArgument(
            f"storage = {redact(url)!r} is not a database URL (e.g. "
            "'postgresql+psycopg://user@host/db'); leave it empty for the embedded journal"
        )
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(
                    _with_driver(url),
                    heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=HEARTBEAT_GRACE_S,
                    heartbeat_stale_trial_callback=_RetryAndReap(),
                )
        except Exception as exc:  # SQLAlchemy's many driver and connection errors
            # Workers started together on a fresh database race to create its tables; the
            # losers see "already exists" and find the tables there on the next try.
            if "already exists" not in str(exc) or attempt == OPEN_ATTEMPTS:
                raise ProjectError(f"cannot open storage {redact(url)!r}: {exc}") from exc
            time.sleep(OPEN_RETRY_S * attempt)
    raise AssertionError("unreachable")


class _RetryAndReap(RetryHeartbeatStaleTrialCallback):
    """A dead worker's trial is enqueued again (Optuna's retry); when that worker ran on this
    machine, what is left of its trial's processes is killed first."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        record = trial.user_attrs.get("dlpilot") or {}
        worker, folder = str(record.get("worker") or ""), record.get("dir")
        if folder and worker.rpartition(":")[0] == HOST:
            kill_trial_processes(Path(folder))
        super().__call__(study, trial)


def _with_driver(url: str) -> str:
    """``postgresql://`` names the psycopg 3 driver that dlpilot installs (SQLAlchemy's default
    for the bare scheme is psycopg2, which is not installed)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def redact(url: str) -> str:
    """``url`` without its password, for messages and displays."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def load_study(name: str, storage: BaseStorage) -> optuna.Study:
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError as exc:
        raise InvalidArgument(f"no study named {name!r} in this storage") from exc


def write_meta(folder: Path, round_: RoundFile, storage_url: str) -> None:
    """Keep the round and its storage next to the study, so status, summary and stop find it
    by name. Written atomically, readable by the owner only (a URL may hold a password)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "round": round_.model_dump(mode="json"),
        "source": str(round_.source) if round_.source else None,
        "storage": storage_url,
    }
    tmp = folder / f".{META_NAME}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, folder / META_NAME)


def read_meta(folder: Path) -> tuple[RoundFile, str]:
    """The round and storage URL a study was started with (see :func:`write_meta`)."""
    path = folder / META_NAME
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidArgument(
            f"no study {folder.name!r} under {folder.parent} (no {META_NAME}); "
            "`dlpilot trials status` lists the studies"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from exc
    source = Path(data["source"]) if data.get("source") else None
    round_ = RoundFile.model_validate({**data["round"], "source": source})
    return round_, str(data.get("storage") or "")


def find_study(name: str, project: Path) -> Path:
    """The folder of study ``name`` under ``project``; the error lists the studies there."""
    folder = study_dir(project, name)
    if (folder / META_NAME).is_file():
        return folder
    known = list_studies(project)
    raise InvalidArgument(
        f"no study named {name!r} under {studies_root(project)}"
        + (f" (studies: {', '.join(known)})" if known else " (no studies yet)")
    )


def list_studies(project: Path) -> list[str]:
    root = studies_root(project)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META_NAME).is_file())


__all__ = [
    "HEARTBEAT_GRACE_S",
    "HEARTBEAT_INTERVAL_S",
    "STUDIES_DIR",
    "find_study",
    "is_database",
    "list_studies",
    "load_study",
    "open_storage",
    "read_meta",
    "redact",
    "studies_root",
    "study_dir",
    "trial_dir",
    "write_meta",
]
