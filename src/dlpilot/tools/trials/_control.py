"""Rounds from outside: start one detached, see where studies stand, stop one.

A detached round is ``python -m dlpilot trials run ROUND_FILE`` started in a new session (it
outlives the shell, the CLI and the MCP server that started it), its output appended to
``runner.log`` in the study folder. Status and stop find a study by name under the project
(``.dlpilot/trials/<name>/``); stop writes the folder's ``STOP`` file, which every runner of the
study (here or on other machines sharing the folder) obeys, and sends SIGTERM to this machine's.

The models here are light (pydantic only); Optuna loads on first use of a function.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel, Field

from dlpilot.errors import InvalidArgument

DETACH_START_S = 5.0
"""How long ``start_detached`` waits for the runner to take its lease: a runner that fails at
once (a bad storage URL) is reported by the start call, not found dead later."""

LOG_NAME = "runner.log"


class DetachedRound(BaseModel):
    """A round started in the background."""

    study: str
    pid: int
    log: str = Field(description="the runner's output, appended")
    folder: str = Field(description="the study folder")


class StudyStatus(BaseModel):
    """Where a study stands: its trials by state, the best so far, who runs it."""

    study: str
    folder: str
    storage: str
    trials: int = Field(description="the round's budget of search trials")
    counts: dict[str, int] = Field(default_factory=dict)
    running: list[int] = Field(default_factory=list, description="numbers of running trials")
    best_value: float | None = None
    best_trial: int | None = None
    runners: list[str] = Field(default_factory=list, description="host:pid of live runners")
    active: bool = Field(description="a runner holds the study now")
    log: str | None = None


class StopResult(BaseModel):
    study: str
    signalled: list[int] = Field(default_factory=list, description="runner pids sent SIGTERM")
    stop_file: str


def start_detached(round_path: str | Path, *, storage: str | None = None) -> DetachedRound:
    """Start ``dlpilot trials run ROUND_PATH`` in the background, fully detached."""
    from dlpilot.tools.trials._lease import live_runners
    from dlpilot.tools.trials._round import load_round
    from dlpilot.tools.trials._storage import study_dir

    path = Path(round_path).resolve()
    round_ = load_round(path)
    folder = study_dir(round_.work_dir, round_.name)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / LOG_NAME
    argv = [sys.executable, "-m", "dlpilot", "trials", "run", str(path)]
    if storage is not None:
        argv += ["--storage", storage]
    with log.open("ab") as out:
        proc = subprocess.Popen(  # dlpilot's own runner; its trials go through the sandbox
            argv,
            cwd=round_.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + DETACH_START_S
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r.get("pid") == proc.pid for r in live_runners(folder)):
            break
        time.sleep(0.05)
    if proc.poll() not in (None, 0):
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise InvalidArgument(
            f"the round's runner stopped at once (exit {proc.returncode}): {tail}"
        )
    return DetachedRound(study=round_.name, pid=proc.pid, log=str(log), folder=str(folder))


def study_status(name: str, project: str | Path = ".") -> StudyStatus:
    """The status of study ``name`` under ``project``."""
    from optuna.trial import TrialState as OptunaState

    from dlpilot.tools.trials import _records as rec
    from dlpilot.tools.trials._lease import live_runners
    from dlpilot.tools.trials._storage import (
        find_study,
        load_study,
        open_storage,
        read_meta,
        redact,
    )

    folder = find_study(name, Path(project).resolve())
    round_, url = read_meta(folder)
    try:
        study = load_study(name, open_storage(url, folder))
        trials = [t for t in study.get_trials(deepcopy=False) if not rec.is_surplus(t)]
    except InvalidArgument:
        if not live_runners(folder):
            raise
        trials = []  # a runner just started: its study is not in the storage yet
    records = [rec.to_record(t) for t in trials]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    done = [t for t in trials if t.state == OptunaState.COMPLETE and t.value is not None]
    sign = 1.0 if round_.objective.direction == "minimize" else -1.0
    best = min(done, key=lambda t: sign * float(t.value or 0.0)) if done else None
    runners = live_runners(folder)
    log = folder / LOG_NAME
    return StudyStatus(
        study=name,
        folder=str(folder),
        storage=redact(url) if url else "journal",
        trials=round_.trials,
        counts=counts,
        running=[r.number for r in records if r.state == "running"],
        best_value=best.value if best else None,
        best_trial=best.number if best else None,
        runners=[f"{r.get('host')}:{r.get('pid')}" for r in runners],
        active=bool(runners),
        log=str(log) if log.exists() else None,
    )


def all_status(project: str | Path = ".") -> list[StudyStatus]:
    """The status of every study under ``project``."""
    from dlpilot.tools.trials._storage import list_studies

    return [study_status(name, project) for name in list_studies(Path(project).resolve())]


def stop_study(name: str, project: str | Path = ".") -> StopResult:
    """Stop every runner of study ``name``: its running trials are stopped and re-run by the
    next ``dlpilot trials run``."""
    from dlpilot.tools.trials._lease import HOST, live_runners
    from dlpilot.tools.trials._runner import STOP_FILE
    from dlpilot.tools.trials._storage import find_study

    folder = find_study(name, Path(project).resolve())
    stop_file = folder / STOP_FILE
    stop_file.write_text(f"stop requested by pid {os.getpid()}\n", encoding="utf-8")
    signalled = []
    for runner in live_runners(folder):
        pid = runner.get("pid")
        if runner.get("host") == HOST and isinstance(pid, int) and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
                signalled.append(pid)
    return StopResult(study=name, signalled=signalled, stop_file=str(stop_file))


__all__ = [
    "DetachedRound",
    "StopResult",
    "StudyStatus",
    "all_status",
    "start_detached",
    "stop_study",
    "study_status",
]
