"""One trial: the round's command filled in, run through the sandbox, its curve read as it grows.

The command is split with ``shlex`` (no shell), run in the round's working directory with the
allow-listed environment plus the slot's (``CUDA_VISIBLE_DEVICES`` or thread limits),
``DLPILOT_TRIAL_PARAMS`` (the parameters as JSON) and ``DLPILOT_TRIAL_DIR``. Every tick the
metrics are read incrementally (:class:`~dlpilot.tools.curves.readers._tail.TailReader`), the new
points of the objective are reported, and the trial is stopped at once (its process group) when
the pruner says so, when a loss goes non-finite, or when the round is stopped.

This module knows nothing of Optuna: the runner passes ``report``, ``should_prune`` and ``beat``.
"""

from __future__ import annotations

import json
import math
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlpilot.errors import ChildStartError
from dlpilot.sandbox import ChildSpec, python_executable, run_child
from dlpilot.tools.checks._command import is_python_name
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._tail import TailReader
from dlpilot.tools.trials._results import ExitCause
from dlpilot.tools.trials._round import RoundFile, fill
from dlpilot.tools.trials._slots import Slot

TICK_S = 0.5
"""How often a running trial's metrics are read and reported: pruning reacts within a tick, and
reading only new bytes keeps each tick cheap."""

OUTPUT_TAIL_CHARS = 4000
"""Output kept in a trial's record: the last lines of a traceback, not a whole log."""

OUTPUT_LIMIT_BYTES = 256 * 1024
"""Output kept in memory per stream while a trial runs: a trial that floods its output costs
the runner no more than this."""


@dataclass
class TrialOutcome:
    """How one trial ended, what it scored and what it ran."""

    cause: ExitCause | None  # None: stopped by the runner (interrupted, it is re-run)
    value: float | None = None
    best_step: int | None = None
    last_step: int | None = None
    exit_detail: str = ""
    output_tail: str = ""
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)
    metrics_seen: list[str] = field(default_factory=list)
    exited_ok: bool = False


@dataclass
class TrialJob:
    """What to run: the round, the trial's number, parameters, seed, folder and slot."""

    round: RoundFile
    number: int
    params: dict[str, Any]
    seed: int
    dir: Path
    slot: Slot
    memory_limit_bytes: int | None = None

    def values(self) -> dict[str, Any]:
        return {
            **self.round.fixed,
            **self.params,
            "seed": self.seed,
            "trial_dir": str(self.dir),
            "trial_number": self.number,
            "study": self.round.name,
        }

    def argv(self) -> list[str]:
        """The command, split without a shell. A bare ``python`` / ``python3`` is the same
        interpreter ``dlpilot check`` runs (``$DLPILOT_PYTHON``, else dlpilot's own), so a round
        runs where its check ran, whatever ``python`` the PATH finds first."""
        argv = shlex.split(fill(self.round.command, self.values()))
        if argv and "/" not in argv[0] and is_python_name(argv[0]):
            argv[0] = python_executable()
        return argv

    def metrics_path(self) -> Path:
        path = Path(fill(self.round.metrics, self.values()))
        return path if path.is_absolute() else self.round.work_dir / path

    def env(self) -> dict[str, str]:
        params = {**self.round.fixed, **self.params}
        return {
            **self.slot.env,
            "DLPILOT_TRIAL_PARAMS": json.dumps(params),
            "DLPILOT_TRIAL_DIR": str(self.dir),
            "DLPILOT_TRIAL_NUMBER": str(self.number),
            "DLPILOT_TRIAL_SEED": str(self.seed),
        }


class _Watcher:
    """The tick of a running trial: read new metrics, report, decide whether to stop it."""

    def __init__(
        self,
        job: TrialJob,
        report: Callable[[float, int], None],
        should_prune: Callable[[], bool],
        beat: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        self.job = job
        self.metric = job.round.objective.metric
        self.tail = TailReader(job.metrics_path())
        self.report = report
        self.should_prune = should_prune
        self.beat = beat
        self.stop = stop
        self.cancel = threading.Event()
        self.reason: ExitCause | None = None
        self.reported = -1
        self.run: Run | None = None

    def tick(self) -> None:
        self.beat()
        if self.stop.is_set():
            self.cancel.set()
            return
        self.read()
        if self.reason is None and _nonfinite_loss(self.run):
            self.reason = "nonfinite"
            self.cancel.set()
        elif self.reason is None and self.should_prune():
            self.reason = "pruned"
            self.cancel.set()

    def read(self) -> None:
        self.run = self.tail.poll()
        series = self.run.get(self.metric) if self.run is not None else None
        if series is None:
            return
        for step, value in zip(series.steps.tolist(), series.values.tolist(), strict=True):
            if step > self.reported and math.isfinite(value):
                self.report(value, step)
                self.reported = step


def _nonfinite_loss(run: Run | None) -> bool:
    if run is None:
        return False
    return any(
        name.endswith("loss") and len(s) and not bool(np.isfinite(s.values).all())
        for name, s in run.series.items()
    )


def run_trial(
    job: TrialJob,
    *,
    report: Callable[[float, int], None],
    should_prune: Callable[[], bool],
    beat: Callable[[], None] = lambda: None,
    stop: threading.Event | None = None,
    tick_s: float = TICK_S,
) -> TrialOutcome:
    """Run ``job`` to its end; the outcome's ``cause`` says how it ended (``None``: ``stop`` was
    set and the trial was stopped unfinished)."""
    job.dir.mkdir(parents=True, exist_ok=True)
    argv = job.argv()
    watcher = _Watcher(job, report, should_prune, beat, stop or threading.Event())
    spec = ChildSpec(
        argv=argv,
        cwd=job.round.work_dir,
        env=job.env(),
        timeout_s=job.round.trial_timeout_s,
        output_limit_bytes=OUTPUT_LIMIT_BYTES,
        memory_limit_bytes=job.memory_limit_bytes,
    )
    started = time.monotonic()
    try:
        result = run_child(spec, cancel=watcher.cancel, on_tick=watcher.tick, tick_s=tick_s)
    except ChildStartError as exc:
        return TrialOutcome("crashed", exit_detail=str(exc), command=argv)
    watcher.read()  # the last points written before the exit
    outcome = TrialOutcome(
        None,
        seconds=time.monotonic() - started,
        command=argv,
        output_tail=_tail(result.stderr_tail, result.stdout_tail),
        exited_ok=result.cause == "ok",
    )
    _score(outcome, watcher)
    if result.cause == "cancelled":
        outcome.cause = watcher.reason
        if watcher.reason == "nonfinite":
            outcome.exit_detail = "a loss went non-finite; stopped"
        elif watcher.reason is None:
            outcome.exit_detail = "stopped with the round"
    elif result.cause == "ok":
        _classify_ok(outcome, watcher)
    elif result.cause == "timeout":
        outcome.cause = "timeout"
        outcome.exit_detail = result.describe()
    elif result.cause == "oom":
        outcome.cause = "oom"
        outcome.exit_detail = result.describe()
    elif _nonfinite_loss(watcher.run):
        outcome.cause, outcome.exit_detail = "nonfinite", result.describe()
    else:
        outcome.cause = "crashed"
        outcome.exit_detail = result.describe()
    return outcome


def _score(outcome: TrialOutcome, watcher: _Watcher) -> None:
    run = watcher.run
    outcome.metrics_seen = sorted(run.series) if run is not None else []
    if run is None or not run.series:
        return
    outcome.last_step = max(int(s.steps[-1]) for s in run.series.values() if len(s))
    series = run.get(watcher.metric)
    if series is None or not len(series):
        return
    objective = watcher.job.round.objective
    values = series.values
    if objective.take == "last":
        index = len(values) - 1
    else:
        finite = np.where(np.isfinite(values), values, np.nan)
        if bool(np.isnan(finite).all()):
            index = len(values) - 1
        elif objective.direction == "minimize":
            index = int(np.nanargmin(finite))
        else:
            index = int(np.nanargmax(finite))
    outcome.value = float(values[index])
    outcome.best_step = int(series.steps[index])


def _classify_ok(outcome: TrialOutcome, watcher: _Watcher) -> None:
    if _nonfinite_loss(watcher.run) or (
        outcome.value is not None and not math.isfinite(outcome.value)
    ):
        outcome.cause = "nonfinite"
        outcome.exit_detail = "exited 0, but a loss in its metrics is non-finite"
    elif outcome.value is None:
        outcome.cause = "no-metrics"
        where = watcher.job.metrics_path()
        found = ", ".join(outcome.metrics_seen) or "none"
        outcome.exit_detail = (
            f"exited 0 without {watcher.metric!r} in {where} (metrics found: {found})"
        )
    else:
        outcome.cause = "completed"


def _tail(stderr: str, stdout: str) -> str:
    text = stderr if stderr.strip() else stdout
    return text[-OUTPUT_TAIL_CHARS:]


__all__ = ["TICK_S", "TrialJob", "TrialOutcome", "run_trial"]
