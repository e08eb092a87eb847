"""The one interface through which ``dlpilot round`` runs anything: the check of the script, the
baseline run, and the trials.

:class:`Launcher` is the contract. :class:`ProcessLauncher` is the real one: ``check`` through
``dlpilot.tools.checks.check_script`` (the sandbox), the baseline as a child process, the trials as
``dlpilot trials run ROUND_FILE`` then ``dlpilot trials summary NAME --json`` (the trials runner's
public command line). :class:`FakeLauncher` is its fast stand-in for tests: it runs nothing and
writes synthetic curves from a known response surface.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shlex
import signal
import subprocess  # nosec B404: the round driver runs the project's own commands
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from dlpilot.errors import ChildCrashed, ChildTimeout, InvalidArgument
from dlpilot.findings import Finding
from dlpilot.tools.trials import (
    BestTrial,
    FloatParam,
    IntParam,
    RoundAnswer,
    RoundFile,
    StudySummary,
    TrialRecord,
    fill,
    load_round,
)

BASELINE_TIMEOUT_S = 3600.0
"""The baseline run of a round: one full training of the project; an hour bounds a CPU example and
says plainly when a real project needs its own launcher (CI, a cluster)."""

TRIALS_TIMEOUT_S = 48 * 3600.0
"""A whole round of trials: the runner enforces per-trial limits itself; this only stops a hung
runner from holding a CI job forever."""

SUMMARY_TIMEOUT_S = 120.0
"""Reading a finished study's summary: a storage read, seconds at most."""


class Launcher(Protocol):
    """Runs what the runbook itself never runs."""

    def check(self, argv: list[str], cwd: Path) -> list[Finding]:
        """The findings of a bounded run of the training command under the probe."""
        ...

    def baseline(self, command: str, cwd: Path, run_dir: Path) -> float:
        """Run the baseline once with ``{trial_dir}`` = ``run_dir``; return its wall time (s)."""
        ...

    def run(self, round_file: Path, trials_cap: int | None) -> StudySummary:
        """Run the round file's trials; return the study's summary."""
        ...


KILL_GRACE_S = 5.0
"""Between SIGTERM and SIGKILL of a stopped run's process group: time to flush logs and exit."""


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's process group, then SIGKILL it after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _argv(command: str, values: dict[str, Any]) -> list[str]:
    argv = shlex.split(fill(command, values))
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv


class ProcessLauncher:
    """The real launcher: child processes and the trials runner's command line."""

    def __init__(self, project: Path, *, dlpilot: list[str] | None = None) -> None:
        self.project = project
        self.dlpilot = dlpilot or [sys.executable, "-m", "dlpilot"]

    def check(self, argv: list[str], cwd: Path) -> list[Finding]:
        from dlpilot.tools.checks import check_script

        report = check_script(argv, cwd=cwd, overfit=False)
        return list(report.findings)

    def baseline(self, command: str, cwd: Path, run_dir: Path) -> float:
        run_dir.mkdir(parents=True, exist_ok=True)
        argv = _argv(command, {"trial_dir": str(run_dir), "seed": 0})
        start = time.monotonic()
        with (run_dir / "output.log").open("wb") as log:
            child = subprocess.Popen(  # nosec B603: the project's own training command
                argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                returncode = child.wait(timeout=BASELINE_TIMEOUT_S)
            except BaseException:  # a timeout or an interrupt: stop the whole process group
                _stop_group(child)
                if time.monotonic() - start >= BASELINE_TIMEOUT_S:
                    raise ChildTimeout(
                        f"the baseline run {shlex.join(argv)} ran past {BASELINE_TIMEOUT_S:g} s"
                    ) from None
                raise
        if returncode != 0:
            tail = (run_dir / "output.log").read_text(errors="replace")[-2000:]
            raise ChildCrashed(
                f"the baseline run {shlex.join(argv)} exited with {returncode}",
                output_tail=tail, exit_code=returncode,
            )  # fmt: skip
        return time.monotonic() - start

    def run(self, round_file: Path, trials_cap: int | None) -> StudySummary:
        name = load_round(round_file).name
        self._dlpilot(["trials", "run", str(round_file)], TRIALS_TIMEOUT_S, capture=False)
        out = self._dlpilot(["trials", "summary", name, "--json"], SUMMARY_TIMEOUT_S, capture=True)
        try:
            return StudySummary.model_validate_json(out)
        except ValueError as exc:
            raise InvalidArgument(
                f"`dlpilot trials summary {name} --json` printed no summary: {exc}"
            ) from exc

    def _dlpilot(self, args: list[str], timeout: float, *, capture: bool) -> str:
        argv = [*self.dlpilot, *args]
        try:
            done = subprocess.run(  # nosec B603: dlpilot's own command line
                argv, cwd=self.project, timeout=timeout, check=False, text=True,
                stdout=subprocess.PIPE if capture else None,
                stderr=subprocess.PIPE if capture else None,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise ChildTimeout(f"{shlex.join(argv)} ran past {timeout:g} s") from exc
        if done.returncode not in (0, 1):  # 1: the round has error-level findings, still done
            raise ChildCrashed(
                f"{shlex.join(argv)} exited with {done.returncode}",
                output_tail=(done.stderr or "")[-2000:] if capture else "",
                exit_code=done.returncode,
            )
        return done.stdout or ""


class FakeLauncher:
    """Runs nothing: trials score from a smooth response surface over the round's parameters
    (its optimum at ``optimum``, given per parameter as a position in [0, 1] of its range), and
    every run gets synthetic train / val curves whose gap follows ``train_dev_gap``."""

    def __init__(
        self,
        *,
        findings: list[Finding] | None = None,
        optimum: float = 0.7,
        seed_noise: float = 0.002,
        train_dev_gap: float = 0.06,
        seconds: float = 30.0,
    ) -> None:
        self.findings = findings or []
        self.optimum = optimum
        self.seed_noise = seed_noise
        self.train_dev_gap = train_dev_gap
        self.seconds = seconds
        self.runs: list[str] = []

    def check(self, argv: list[str], cwd: Path) -> list[Finding]:
        self.runs.append("check " + " ".join(argv))
        return list(self.findings)

    def baseline(self, command: str, cwd: Path, run_dir: Path) -> float:
        self.runs.append("baseline " + command)
        _write_curves(run_dir, final_dev_error=0.12, gap=self.train_dev_gap, seed=0)
        return self.seconds

    def run(self, round_file: Path, trials_cap: int | None) -> StudySummary:
        spec = load_round(round_file)
        self.runs.append(f"trials {spec.name}")
        rng = random.Random(spec.seed)  # noqa: S311 (synthetic data, not security)
        count = min(spec.trials, trials_cap) if trials_cap else spec.trials
        study_dir = round_file.parent / "trials"
        trials: list[TrialRecord] = []
        points: list[dict[str, Any]] = []
        if spec.baseline:  # enqueued first; parameters it leaves out are sampled, as Optuna does
            points.append({**_sample(spec, rng), **spec.baseline})
        while len(points) < count:
            points.append(_sample(spec, rng))
        for number, params in enumerate(points):
            trials.append(self._trial(spec, study_dir, number, params, seed=spec.seed, rng=rng))
        sign = -1.0 if spec.objective.direction == "maximize" else 1.0
        best = min(trials, key=lambda t: sign * (t.value or 0.0))
        reruns = [
            self._trial(spec, study_dir, len(trials) + i, best.params, seed=spec.seed + 1 + i,
                        rng=rng, kind="seed-rerun")
            for i in range(spec.seeds.runs)
        ]  # fmt: skip
        values = [t.value or 0.0 for t in reruns]
        spread = _std(values)
        baseline = trials[0] if spec.baseline else None
        if baseline is not None:
            baseline = baseline.model_copy(update={"kind": "baseline"})
            trials[0] = baseline
        diff = abs((best.value or 0) - (baseline.value or 0)) if baseline else None
        return StudySummary(
            study=spec.name,
            direction=spec.objective.direction,
            metric=spec.objective.metric,
            best=BestTrial(number=best.number, value=best.value or 0.0, params=best.params),
            baseline=baseline,
            trials=[*trials, *reruns],
            counts={"complete": len(trials) + len(reruns)},
            answer=RoundAnswer(
                targets=spec.targets,
                seed_spread=spread,
                exceeds_noise=None if diff is None else diff > spread,
            ),
        )

    def _trial(
        self, spec: RoundFile, study_dir: Path, number: int, params: dict[str, Any], *,
        seed: int, rng: random.Random, kind: str = "search",
    ) -> TrialRecord:  # fmt: skip
        distance = 0.0
        for name, p in spec.varied.items():
            if isinstance(p, FloatParam | IntParam):
                distance += (_position(p, params[name]) - self.optimum) ** 2
        dev_error = 0.05 + 0.15 * distance + rng.gauss(0, self.seed_noise)
        run_dir = study_dir / f"trial_{number:04d}"
        _write_curves(run_dir, final_dev_error=dev_error, gap=self.train_dev_gap, seed=seed)
        value = 1.0 - dev_error if spec.objective.metric.endswith("acc") else dev_error
        return TrialRecord(
            number=number, state="complete", kind=kind, params=params, seed=seed,
            value=value, best_step=200, last_step=200, exit_cause="completed",
            seconds=self.seconds, dir=str(run_dir),
        )  # fmt: skip


def _sample(spec: RoundFile, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, p in spec.varied.items():
        if isinstance(p, FloatParam):
            u = rng.random()
            out[name] = (
                math.exp(math.log(p.low) + u * (math.log(p.high) - math.log(p.low)))
                if p.log else p.low + u * (p.high - p.low)
            )  # fmt: skip
        elif isinstance(p, IntParam):
            out[name] = rng.randint(p.low, p.high)
        else:
            out[name] = rng.choice(p.choices)
    return out


def _position(p: FloatParam | IntParam, value: Any) -> float:
    v = float(value)
    if p.log:
        return (math.log(v) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
    return (v - p.low) / (p.high - p.low)


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))


def _write_curves(run_dir: Path, *, final_dev_error: float, gap: float, seed: int) -> None:
    """A metrics.jsonl like a real classifier's: train error falls below dev error by ``gap``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not security)
    lines = []
    for step in range(10, 201, 10):
        t = step / 200
        dev = final_dev_error + 0.6 * math.exp(-6 * t) + rng.gauss(0, 0.002)
        train = max(0.0, dev - gap * t)
        lines.append({"step": step, "train/loss": 2 * train + 0.01, "train/acc": 1 - train,
                      "val/loss": 2 * dev + 0.01, "val/acc": 1 - dev})  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    (run_dir / "metrics.jsonl").write_text(text)


__all__ = ["FakeLauncher", "Launcher", "ProcessLauncher"]
