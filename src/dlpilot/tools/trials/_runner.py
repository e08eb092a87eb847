"""The runner: one supervising process per machine that runs a round's trials on its slots.

It owns the slots (one worker thread each; a slot takes its next trial the moment its trial
ends), asks Optuna for trials (ask/tell), runs each through :func:`run_trial`, and tells the
result. It is the only writer of its trials' states, so recovery is its job too:

* embedded journal (no heartbeat): the runner holds a lease on the study folder
  (:mod:`._lease`); at start, every RUNNING trial whose runner's lease is dead is killed (its
  leftover processes), failed and enqueued again with its params;
* database: the runner records each running trial's heartbeat itself, and calls
  ``fail_stale_trials`` before it asks, which fails a dead worker's trials and enqueues them again.

The budget: the round's ``trials`` (the baseline first), then the seed re-runs of the best
configurations. Trials asked beyond the budget by a racing worker, or a second copy of an enqueued
trial, are failed at once as *surplus* and left out of the round. The round ends when the budget is
finished; a trial stopped with the round is re-run by the next ``dlpilot trials run``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, RDBStorage, fail_stale_trials
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from dlpilot.sandbox import default_memory_limit_bytes
from dlpilot.tools.trials import _records as rec
from dlpilot.tools.trials._launch import TICK_S, TrialJob, TrialOutcome, run_trial
from dlpilot.tools.trials._lease import (
    Lease,
    kill_trial_processes,
    live_runners,
    owner_alive,
    worker_id,
)
from dlpilot.tools.trials._results import StudySummary
from dlpilot.tools.trials._round import RoundFile, RoundFileError
from dlpilot.tools.trials._search import make_pruner, make_sampler, suggest
from dlpilot.tools.trials._slots import Slot, machine_slots
from dlpilot.tools.trials._storage import (
    HEARTBEAT_INTERVAL_S,
    is_database,
    open_storage,
    study_dir,
    trial_dir,
    write_meta,
)
from dlpilot.tools.trials._summary import build_summary

IDLE_WAIT_S = 0.2
"""A slot with nothing to ask (others' trials decide what comes next) looks again after this."""

PROGRESS_S = 1.0
"""How often the progress callback is called while the round runs."""

GIT_TIMEOUT_S = 10.0
"""``git rev-parse`` / ``git status`` of the project: instant normally; a hung network mount must
not hold the round."""

RECOVER_EVERY_S = 5.0
"""While a runner waits on other runners' trials (journal storage), how often it checks whether
their runners died: a lease check per running trial, cheap, and well inside a trial's length."""

STOP_FILE = "STOP"
"""Written into the study folder by ``dlpilot trials stop``: every runner of the study stops."""


@dataclass
class RunningTrial:
    number: int
    slot: str
    params: dict[str, Any]
    started: float
    last_step: int | None = None


@dataclass
class Progress:
    """A live snapshot of the round, for the progress display and the status tool."""

    study: str
    target: int
    done: int = 0
    pruned: int = 0
    failed: int = 0
    running: list[RunningTrial] = field(default_factory=list)
    best_value: float | None = None
    best_number: int | None = None


def git_state(directory: Path) -> tuple[str | None, bool | None]:
    """The project's commit and whether its tree has changes (``None`` outside git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # git from PATH, as people run it
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None


def _fail_stale(study: optuna.Study) -> None:
    """Optuna's ``fail_stale_trials`` (marked experimental since 2.9) without its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fail_stale_trials(study)


class Runner:
    """Runs ``round_`` on this machine until its budget is finished or ``stop`` is set."""

    def __init__(
        self,
        round_: RoundFile,
        *,
        storage: str | None = None,
        slots: list[Slot] | None = None,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        tick_s: float = TICK_S,
        memory_limit_bytes: int | None = None,
    ) -> None:
        self.round = round_
        self.storage_url = round_.storage if storage is None else storage
        self.folder = study_dir(round_.work_dir, round_.name)
        self.slots = slots or machine_slots(round_.parallel, round_.trials_per_gpu)
        self.stop = stop or threading.Event()
        self.on_progress = on_progress
        self.tick_s = tick_s
        whole = default_memory_limit_bytes()
        # Each slot's trials get their share of the memory, so parallel trials that all grow hit
        # their own limit (an "oom" trial) before the kernel's OOM killer picks a victim.
        self.memory_limit_bytes = memory_limit_bytes or (
            whole // len(self.slots) if whole else None
        )
        self.worker = worker_id()
        self._lock = threading.Lock()
        self._running: dict[int, RunningTrial] = {}
        self._error: BaseException | None = None
        self._next_recover = 0.0
        self._git: tuple[str | None, bool | None] = (None, None)
        self.storage: BaseStorage | None = None
        self.study: optuna.Study | None = None

    # --- the round ---------------------------------------------------------------------------

    def run(self) -> StudySummary:
        """Run the round; returns its summary. Raises :class:`RoundFileError` when the objective's
        metric is never found, after the first trial that exited cleanly without it."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / STOP_FILE).unlink(missing_ok=True)
        write_meta(self.folder, self.round, self.storage_url)
        self._git = git_state(self.round.work_dir)
        with Lease(self.folder, {"round": str(self.round.source or "")}):
            self.storage = open_storage(self.storage_url, self.folder)
            self.study = optuna.create_study(
                study_name=self.round.name,
                storage=self.storage,
                sampler=make_sampler(self.round, self.worker),
                pruner=make_pruner(self.round),
                direction=self.round.objective.direction,
                load_if_exists=True,
            )
            self._recover()
            self._enqueue_baseline()
            threads = [
                threading.Thread(target=self._slot_loop, args=(slot,), name=f"dlpilot-{slot.name}")
                for slot in self.slots
            ]
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                for thread in threads:
                    thread.join(PROGRESS_S / len(threads))
                if (self.folder / STOP_FILE).exists():
                    self.stop.set()
                self._report_progress()
            self._report_progress()
        if self._error is not None:
            raise self._error
        return build_summary(self.round, self.study, self.storage_url)

    def _slot_loop(self, slot: Slot) -> None:
        try:
            while not self.stop.is_set():
                trial = self._next_trial()
                if trial is None:
                    return
                if isinstance(trial, str):  # "wait"
                    self.stop.wait(IDLE_WAIT_S)
                    continue
                self._run(trial, slot)
        except BaseException as exc:  # a bug or a storage failure: stop the round, say why
            with self._lock:
                self._error = self._error or exc
            self.stop.set()

    # --- choosing the next trial -------------------------------------------------------------

    def _trials(self) -> list[FrozenTrial]:
        assert self.study is not None
        return self.study.get_trials(deepcopy=False)

    def _next_trial(self) -> optuna.Trial | str | None:
        """The next trial to run, ``"wait"`` while others decide what comes next, ``None`` when
        the budget is done."""
        assert self.study is not None
        with self._lock:
            if isinstance(self.storage, RDBStorage):
                _fail_stale(self.study)
            trials = self._trials()
            counted = [t for t in trials if rec.counts_toward_budget(t)]
            search = [t for t in counted if t.user_attrs.get(rec.KIND) != "seed-rerun"]
            waiting = any(t.state == OptunaState.WAITING for t in trials)
            if len(search) < self.round.trials or waiting:
                return self._ask()
            if any(t.state == OptunaState.RUNNING for t in counted):
                # Another runner's trials decide the end; if that runner died, they are re-run.
                if not is_database(self.storage_url) and time.monotonic() >= self._next_recover:
                    self._next_recover = time.monotonic() + RECOVER_EVERY_S
                    self._recover()
                return "wait"
            if self.round.seeds.top and not self.study.user_attrs.get("dlpilot_seeds"):
                self._enqueue_seed_reruns(trials)
                return "wait"
            return None

    def _ask(self) -> optuna.Trial | str:
        assert self.study is not None
        with warnings.catch_warnings():  # heartbeats with ask/tell are this runner's job
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to")
            trial = self.study.ask()
        self._beat(trial)
        trial.set_user_attr(rec.RECORD, {"worker": self.worker, "started": rec.now_iso()})
        if self._surplus(trial):
            trial.set_user_attr(rec.SURPLUS, True)
            self.study.tell(trial, state=OptunaState.FAIL)
            return "wait"
        return trial

    def _surplus(self, trial: optuna.Trial) -> bool:
        """Asked beyond the budget (a racing worker got there first), or a second copy of an
        enqueued trial: the first trials by number win."""
        attrs = trial.user_attrs
        earlier = [
            t for t in self._trials() if t.number < trial.number and rec.counts_toward_budget(t)
        ]
        key = attrs.get(rec.KEY)
        if key and any(t.user_attrs.get(rec.KEY) == key for t in earlier):
            return True
        if attrs.get(rec.KIND) == "seed-rerun":
            return False
        search = [t for t in earlier if t.user_attrs.get(rec.KIND) != "seed-rerun"]
        return len(search) >= self.round.trials

    def _enqueue_baseline(self) -> None:
        assert self.study is not None
        if self.round.baseline is None or self.study.user_attrs.get("dlpilot_baseline"):
            return
        self.study.set_user_attr("dlpilot_baseline", True)
        self.study.enqueue_trial(
            dict(self.round.baseline),
            user_attrs={rec.KIND: "baseline", rec.SEED: self.round.seed, rec.KEY: "baseline"},
        )

    def _enqueue_seed_reruns(self, trials: list[FrozenTrial]) -> None:
        """Seed 001 section 3.4: the best ``top`` configurations, and the baseline, again with
        ``runs - 1`` other seeds each."""
        assert self.study is not None
        self.study.set_user_attr("dlpilot_seeds", True)
        done = [
            t
            for t in trials
            if t.state == OptunaState.COMPLETE
            and t.user_attrs.get(rec.KIND) != "seed-rerun"
            and not rec.is_surplus(t)
        ]
        sign = 1.0 if self.round.objective.direction == "minimize" else -1.0
        done.sort(key=lambda t: sign * float(t.value if t.value is not None else 0.0))
        chosen: list[FrozenTrial] = []
        for t in done:
            if len(chosen) < self.round.seeds.top and all(c.params != t.params for c in chosen):
                chosen.append(t)
        chosen += [
            t
            for t in done
            if t.user_attrs.get(rec.KIND) == "baseline"
            and all(c.params != t.params for c in chosen)
        ][:1]
        for t in chosen:
            for offset in range(1, self.round.seeds.runs):
                seed = self.round.seed + offset
                self.study.enqueue_trial(
                    dict(t.params),
                    user_attrs={
                        rec.KIND: "seed-rerun",
                        rec.SEED: seed,
                        rec.KEY: f"seed:{t.number}:{seed}",
                        "dlpilot_rerun_of": t.number,
                    },
                )

    # --- running one trial -------------------------------------------------------------------

    def _beat(self, trial: optuna.Trial) -> None:
        if isinstance(self.storage, RDBStorage):
            self.storage.record_heartbeat(trial._trial_id)

    def _run(self, trial: optuna.Trial, slot: Slot) -> None:
        assert self.study is not None
        params = suggest(trial, self.round)
        kind = trial.user_attrs.get(rec.KIND, "search")
        seed = int(trial.user_attrs.get(rec.SEED, self.round.seed))
        trial.set_user_attr(rec.KIND, kind)
        trial.set_user_attr(rec.SEED, seed)
        job = TrialJob(
            self.round,
            trial.number,
            params,
            seed,
            trial_dir(self.folder, trial.number),
            slot,
            self.memory_limit_bytes,
        )
        record: dict[str, Any] = {
            "worker": self.worker,
            "slot": slot.name,
            "dir": str(job.dir),
            "command": job.argv(),
            "started": rec.now_iso(),
            "git_commit": self._git[0],
            "git_dirty": self._git[1],
        }
        trial.set_user_attr(rec.RECORD, record)
        running = RunningTrial(trial.number, slot.name, params, time.time())
        with self._lock:
            self._running[trial.number] = running
        last_beat = [time.monotonic()]

        def beat() -> None:
            if time.monotonic() - last_beat[0] >= HEARTBEAT_INTERVAL_S:
                last_beat[0] = time.monotonic()
                self._beat(trial)

        def report(value: float, step: int) -> None:
            running.last_step = step
            trial.report(value, step)

        prune = self.round.pruner.kind != "none"
        try:
            outcome = run_trial(
                job,
                report=report,
                should_prune=trial.should_prune if prune else lambda: False,
                beat=beat,
                stop=self.stop,
                tick_s=self.tick_s,
            )
        finally:
            with self._lock:
                self._running.pop(trial.number, None)
        self._tell(trial, job, record, outcome)

    def _tell(
        self, trial: optuna.Trial, job: TrialJob, record: dict[str, Any], outcome: TrialOutcome
    ) -> None:
        assert self.study is not None
        record.update(
            ended=rec.now_iso(),
            seconds=round(outcome.seconds, 3),
            command=outcome.command,
            last_step=outcome.last_step,
            best_step=outcome.best_step,
            exit_cause=outcome.cause,
            exit_detail=outcome.exit_detail,
            output_tail=outcome.output_tail,
        )
        trial.set_user_attr(rec.RECORD, record)
        if outcome.cause == "completed":
            assert outcome.value is not None
            self.study.tell(trial, outcome.value)
        elif outcome.cause == "pruned":
            self.study.tell(trial, state=OptunaState.PRUNED)
        else:
            self.study.tell(trial, state=OptunaState.FAIL)
        if outcome.cause is None:  # stopped with the round: the next run runs it again
            self._requeue(trial.number, dict(trial.params), trial.user_attrs)
        if outcome.cause == "no-metrics" and outcome.exited_ok:
            self._metric_never_found(job, outcome)

    def _metric_never_found(self, job: TrialJob, outcome: TrialOutcome) -> None:
        """After a clean exit without the objective's metric, unless an earlier trial found it,
        the round's ``objective.metric`` (or ``metrics`` path) is wrong: stop and say so."""
        if any(t.state == OptunaState.COMPLETE for t in self._trials()):
            return
        found = ", ".join(outcome.metrics_seen) or "none"
        with self._lock:
            self._error = self._error or RoundFileError(
                f"objective.metric = {self.round.objective.metric!r} was never found in the "
                f"metrics of trial {job.number} ({job.metrics_path()}); the metrics it did find: "
                f"{found}. Fix objective.metric or metrics in the round file and run it again."
            )
        self.stop.set()

    def _requeue(self, number: int, params: dict[str, Any], attrs: dict[str, Any]) -> None:
        assert self.study is not None
        self.study.enqueue_trial(
            params,
            user_attrs={
                rec.KIND: attrs.get(rec.KIND, "search"),
                rec.SEED: attrs.get(rec.SEED, self.round.seed),
                rec.KEY: attrs.get(rec.KEY) or f"retry:{number}",
                "dlpilot_retry_of": number,
            },
        )

    # --- recovery (journal storage) ----------------------------------------------------------

    def _recover(self) -> None:
        """Fail and enqueue again the RUNNING trials of runners that died (journal storage; a
        database's heartbeats do the same through ``fail_stale_trials``)."""
        assert self.study is not None
        if is_database(self.storage_url):
            _fail_stale(self.study)
            return
        for t in self._trials():
            if t.state != OptunaState.RUNNING:
                continue
            record = dict(t.user_attrs.get(rec.RECORD) or {})
            owner = str(record.get("worker") or "")
            if owner == self.worker or (owner and owner_alive(self.folder, owner)):
                continue
            if not owner and any(r.get("pid") != os.getpid() for r in live_runners(self.folder)):
                continue  # just asked by a live runner that has not written its record yet
            kill_trial_processes(trial_dir(self.folder, t.number))
            record.update(
                ended=rec.now_iso(),
                exit_cause=None,
                exit_detail=f"interrupted: its runner {owner or '(unknown)'} died; run again",
            )
            try:
                self.study._storage.set_trial_user_attr(t._trial_id, rec.RECORD, record)
                self.study.tell(t.number, state=OptunaState.FAIL)
            except (RuntimeError, ValueError):  # another runner recovered it first
                continue
            self._requeue(t.number, dict(t.params), t.user_attrs)

    # --- progress ----------------------------------------------------------------------------

    def progress(self) -> Progress:
        trials = [t for t in self._trials() if not rec.is_surplus(t)] if self.study else []
        target = self.round.trials
        progress = Progress(self.round.name, target)
        for t in trials:
            if t.state == OptunaState.COMPLETE:
                progress.done += 1
            elif t.state == OptunaState.PRUNED:
                progress.pruned += 1
            elif t.state == OptunaState.FAIL and not rec.is_interrupted(t):
                progress.failed += 1
        complete = [t for t in trials if t.state == OptunaState.COMPLETE and t.value is not None]
        if complete:
            sign = 1.0 if self.round.objective.direction == "minimize" else -1.0
            best = min(complete, key=lambda t: sign * float(t.value or 0.0))
            progress.best_value, progress.best_number = best.value, best.number
        with self._lock:
            progress.running = sorted(self._running.values(), key=lambda r: r.number)
        return progress

    def _report_progress(self) -> None:
        if self.on_progress is not None:
            with contextlib.suppress(Exception):  # a display error must not stop the round
                self.on_progress(self.progress())


def run_round(
    round_: RoundFile,
    *,
    storage: str | None = None,
    slots: list[Slot] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    memory_limit_bytes: int | None = None,
) -> StudySummary:
    """Run ``round_`` on this machine (its slots, or ``slots``) until its budget is finished, and
    return its summary. ``storage`` overrides the round's (``""``: the embedded journal). A
    second call with the same round continues the study where it stopped. Each trial's memory
    limit is ``memory_limit_bytes``, by default the slot's share of the sandbox's default."""
    return Runner(
        round_,
        storage=storage,
        slots=slots,
        stop=stop,
        on_progress=on_progress,
        memory_limit_bytes=memory_limit_bytes,
    ).run()


__all__ = ["Progress", "Runner", "RunningTrial", "git_state", "run_round"]
