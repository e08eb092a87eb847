"""Running a training script under the probe (script mode, then overfit mode) and judging it.

The parent never imports torch: it starts ``python -m dlpilot.sandbox.probe`` through the sandbox,
follows the probe's event file for progress, and turns the evidence into findings.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import dlpilot
from dlpilot.errors import ChildCrashed, InvalidArgument, PathNotAllowed, SandboxError
from dlpilot.findings import Finding, merge_findings
from dlpilot.sandbox import (
    ChildResult,
    ChildSpec,
    owned_tempdir,
    raise_for_cause,
    release_tempdir,
    run_child,
)
from dlpilot.sandbox.probe import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_STEPS,
    DEFAULT_TRAIN_BATCHES,
    DEFAULT_VAL_BATCHES,
)
from dlpilot.tools._contract import only_declared
from dlpilot.tools.control import Control, PathGuard
from dlpilot.tools.inspect import repository_root

from ._command import Command, parse_command
from ._envvars import child_env, defaulted_reads, dropped_hint, dropped_variables
from ._evidence import EventReader, ProbeRun
from ._exceptions import explain
from ._launch import DirReader, describe, launch_env, merge
from ._models import (
    CheckReport,
    ChildRun,
    OverfitResult,
    ProcessInfo,
    StopReason,
    UserException,
)
from ._overfit import DEFAULT_OVERFIT_STEPS, judge_curve, verdict
from ._replay import ChildRunner
from .rules import Context, judge_all, judge_misaligned

DEFAULT_TIMEOUT_S = 300.0
"""Wall-clock budget of the whole check (script run, then overfit run, sharing what is left): a
small script's bounded run takes seconds, a slow data pipeline minutes."""

SCRIPT_SHARE = 0.6
"""Share of the budget the script run may use when the overfit test follows: a bounded run
usually ends far sooner, and the overfit run gets everything left."""

MIN_PHASE_S = 2.0
"""Below this much time left, the overfit run is not started (it could not even import torch)."""

SOFT_STOP_SHARE = 0.8
"""The probe stops the script itself at this share of the timeout, so the evidence is complete
and the hard kill stays a last resort."""

MAX_OVERFIT_STEPS = 5000
MAX_BATCHES = 100_000

OUTPUT_LIMIT_BYTES = 256 * 1024
"""Child output kept per stream (head and tail); a script that prints every step stays bounded."""

_PROBE_MODULE = "dlpilot.sandbox.probe"


def _src_root() -> str:
    return str(Path(dlpilot.__file__).resolve().parents[1])


def repo_root(cwd: Path, guard: PathGuard | None = None) -> Path:
    """The project's repository root: the nearest directory at or above ``cwd`` holding
    ``.git``, else ``cwd``; with a ``guard``, only a root it allows."""
    candidate = repository_root(cwd)
    if candidate != cwd and guard is not None:
        try:
            guard(candidate)
        except PathNotAllowed:
            return cwd
    return candidate


@dataclass
class _Job:
    """What runs, where, with which variables: shared by the script and the overfit runs."""

    command: Command
    cwd: Path
    root: Path
    env: dict[str, str]
    env_allow: tuple[str, ...]
    no_network: bool = False


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def _check_cwd(cwd: Path | str) -> Path:
    path = Path(cwd)
    if not path.is_dir():
        raise InvalidArgument(f"cwd is not a directory: {str(cwd)!r}")
    return path.resolve()


class _Progress:
    """Turns the growing event file into ``control.progress`` calls."""

    def __init__(
        self,
        control: Control,
        reader: EventReader | DirReader,
        offset: int,
        total: int,
        label: str,
    ) -> None:
        self.control, self.reader = control, reader
        self.offset, self.total, self.label = offset, total, label
        self.last = -1

    def tick(self) -> None:
        run = self.reader.poll()
        done = min(run.step_count, self.total - self.offset)
        if done != self.last:
            self.last = done
            self.control.progress(
                float(self.offset + done), float(self.total), f"{self.label}: step {done}"
            )


def _run_probe(
    job: _Job,
    *,
    mode: str,
    bounds: dict[str, int | float],
    timeout_s: float,
    control: Control,
    progress_offset: int,
    progress_total: int,
    runner: ChildRunner = run_child,
) -> tuple[ProbeRun, ChildResult, list[ProcessInfo]]:
    tmp = owned_tempdir("probe")
    command = job.command
    bounds = {**bounds, "soft_deadline": round(time.time() + timeout_s * SOFT_STOP_SHARE, 3)}
    base = {
        "PYTHONPATH": os.pathsep.join(
            p for p in (_src_root(), os.environ.get("PYTHONPATH", "")) if p
        ),
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
    }
    user_env = {**command.env, **job.env}
    if "PYTHONPATH" in user_env:
        base["PYTHONPATH"] = os.pathsep.join((base["PYTHONPATH"], user_env.pop("PYTHONPATH")))
    try:
        reader: EventReader | DirReader
        if command.launcher is None:
            events = tmp / "events.jsonl"
            argv = [command.python, "-m", _PROBE_MODULE, "--out", str(events), "--mode", mode]
            for key, value in bounds.items():
                argv += [f"--{key.replace('_', '-')}", str(value)]
            argv += ["--root", str(job.root), "--", *command.rest]
            env = {**base, **user_env}
            reader = EventReader(events)
        else:
            argv = list(command.rest)
            env = launch_env(command, tmp, mode, bounds, [str(job.root)], {**base, **user_env})
            reader = DirReader(tmp)
        spec = ChildSpec(
            argv=argv,
            cwd=job.cwd,
            env=env,
            env_allow=job.env_allow,
            timeout_s=timeout_s,
            output_limit_bytes=OUTPUT_LIMIT_BYTES,
            no_network=job.no_network,
        )
        label = "checking the script" if mode == "script" else "overfit test"
        prog = _Progress(control, reader, progress_offset, progress_total, label)
        result = runner(spec, cancel=control.cancel, on_tick=prog.tick)
        processes: list[ProcessInfo] = []
        if isinstance(reader, DirReader):
            run, processes = merge(reader.finish())
        else:
            run = reader.finish()
    finally:
        release_tempdir(tmp)
    if result.cause == "cancelled":
        raise SandboxError(
            "the check was cancelled", output_tail=result.output_tail, exit_code=result.exit_code
        )
    if not run.started and command.launcher is None:
        # The probe never got going: the interpreter, torch or the probe's arguments failed.
        # (Under a launcher, no process importing torch is a run without a training step.)
        if result.cause == "ok":
            raise ChildCrashed(
                f"the probe did not start: {result.describe()}",
                output_tail=result.output_tail,
                exit_code=result.exit_code,
            )
        raise_for_cause(result)
    return run, result, processes


def _child_run(mode: str, run: ProbeRun, result: ChildResult) -> ChildRun:
    reason = run.end.get("reason") if run.end else None
    known = ("finished", "epochs", "steps", "time", "overfit-steps", "exception", "exit")
    stopped: StopReason = reason if reason in known else "killed"
    return ChildRun(
        mode="script" if mode == "script" else "overfit",
        cause=result.cause,
        stopped_by=stopped,
        exit_code=result.exit_code,
        wall_s=round(result.wall_s, 3),
        steps=run.step_count,
        summary=result.describe()
        if stopped in ("killed", "exception", "exit")
        else f"stopped by the probe ({stopped}) after {run.step_count} steps",
        output_tail=result.output_tail[-4000:],
    )


def _user_exception(run: ProbeRun, ctx: Context) -> UserException | None:
    e = run.exception
    if not e:
        return None
    line = e.get("line")
    step = e.get("step")
    return UserException(
        type=str(e.get("type", "Exception")),
        message=str(e.get("message", "")),
        file=ctx.rel(e.get("file")),
        line=line if isinstance(line, int) and line >= 1 else None,
        code=e.get("code"),
        step=step if isinstance(step, int) and step >= 0 else None,
        traceback_tail=str(e.get("traceback", ""))[-4000:],
    )


def _static_findings(files: list[str], root: Path, control: Control) -> tuple[list[Finding], bool]:
    """The static rules on the files the script executed under the repository root."""
    try:
        from dlpilot.tools.inspect import inspect_files
    except ImportError:  # static inspection not installed in this build
        return [], False
    if not files:
        return [], True
    report = inspect_files(root, files, control=Control(cancel=control.cancel))
    return list(report.findings), True


def _bounds(
    mode: str,
    steps: int,
    val_steps: int,
    epochs: int,
    max_steps: int,
    overfit_steps: int,
    timeout_s: float,
) -> dict[str, int | float]:
    return {
        "train_batches": steps,
        "val_batches": val_steps if mode == "script" else 1,
        "epochs": epochs,
        "max_steps": max_steps,
        "max_seconds": round(max(1.0, timeout_s * SOFT_STOP_SHARE), 1),
        "overfit_steps": overfit_steps,
    }


def _job(
    argv: list[str],
    cwd: Path | str,
    guard: PathGuard | None,
    env: dict[str, str] | None,
    pass_env: list[str] | None,
    no_network: bool,
) -> _Job:
    where = _check_cwd(cwd)
    command = parse_command(argv, where, guard=guard)
    given, allow = child_env(env, pass_env)
    return _Job(command, where, repo_root(where, guard), given, allow, no_network)


def _check_timeout(timeout_s: float) -> None:
    if not isinstance(timeout_s, int | float) or isinstance(timeout_s, bool) or timeout_s <= 0:
        raise InvalidArgument(f"timeout_s must be a number > 0, got {timeout_s!r}")


def check_script(
    argv: list[str],
    *,
    cwd: Path,
    steps: int | None = None,
    overfit: bool = True,
    overfit_steps: int = DEFAULT_OVERFIT_STEPS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    control: Control | None = None,
    val_steps: int = DEFAULT_VAL_BATCHES,
    epochs: int = DEFAULT_EPOCHS,
    max_steps: int | None = None,
    static: bool = True,
    no_network: bool = False,
    guard: PathGuard | None = None,
    runner: ChildRunner = run_child,
    env: dict[str, str] | None = None,
    pass_env: list[str] | None = None,
) -> CheckReport:
    """Run ``argv`` (``[python] train.py args``, ``[python] -m module args``, or a launcher:
    ``torchrun ...``, ``accelerate launch ...``, ``bash run.sh``, ``make train``, maybe after
    ``env NAME=VALUE``) in ``cwd`` under the probe, bounded to ``epochs`` epochs of ``steps``
    training and ``val_steps`` validation batches (without a DataLoader: ``max_steps`` optimizer
    steps, else ``epochs * steps`` when ``steps`` is given, else :data:`DEFAULT_MAX_STEPS`), then,
    if ``overfit``, run the single-batch overfit test for ``overfit_steps`` steps. Returns the
    merged findings (runtime, the exception's explanation, and the static rules on the files the
    command ran under the repository root), the overfit verdict and how each child ended.

    ``timeout_s`` is the whole check's budget (the runs share it); ``env`` sets variables and
    ``pass_env`` passes more of this process's variables than the sandbox's allow-list;
    ``no_network`` has the sandbox refuse the script's connections to anything but this machine
    (see ``dlpilot.sandbox``); ``guard`` (the server's roots) must allow the files the command
    runs. Raises :class:`~dlpilot.errors.InvalidArgument` for bad arguments or a missing script,
    and a :class:`~dlpilot.errors.SandboxError` when the probe could not start or the check was
    cancelled; a script that fails is diagnosed, not raised ``runner`` starts each
    child (the sandbox's ``run_child``; ``RecordedRunner`` replays a recorded run instead).
    """
    control = control or Control()
    job = _job(argv, cwd, guard, env, pass_env, no_network)
    batches = DEFAULT_TRAIN_BATCHES if steps is None else steps
    _check_int("steps", batches, 1, MAX_BATCHES)
    _check_int("val_steps", val_steps, 1, MAX_BATCHES)
    _check_int("epochs", epochs, 1, 100)
    _check_int("overfit_steps", overfit_steps, 1, MAX_OVERFIT_STEPS)
    if max_steps is not None:
        bound = max_steps
    elif steps is not None:
        bound = epochs * steps
    else:
        bound = max(DEFAULT_MAX_STEPS, (epochs + 1) * batches)
    _check_int("max_steps", bound, 1, 10 * MAX_BATCHES)
    _check_timeout(timeout_s)
    started = time.monotonic()
    deadline = started + timeout_s
    total = epochs * batches + (overfit_steps if overfit else 0)
    script_budget = timeout_s * (SCRIPT_SHARE if overfit else 1.0)
    run, result, processes = _run_probe(
        job,
        mode="script",
        bounds=_bounds("script", batches, val_steps, epochs, bound, overfit_steps, script_budget),
        timeout_s=script_budget,
        control=control,
        progress_offset=0,
        progress_total=total,
        runner=runner,
    )
    ctx = Context(root=job.root)
    child = _child_run("script", run, result)
    exc = _user_exception(run, ctx)
    findings = judge_all(run, ctx)
    who = describe(processes)
    if who is not None:
        for f in findings:
            for ev in f.evidence:
                if ev.how == "runtime":
                    ev.detail.setdefault("process", who)
    if exc is not None:
        explained = explain(exc, file=exc.file, line=exc.line)
        if explained is not None:
            findings.extend(only_declared(explain, [explained]))
    files = [ctx.rel(f) or f for f in (run.end.get("user_files", []) if run.end else [])]
    dropped: list[str] = []
    if exc is not None:
        given = {**job.command.env, **job.env}
        dropped = dropped_variables(exc.type, exc.message, exc.traceback_tail, given, job.env_allow)
        read = defaulted_reads(job.root, files, given, job.env_allow)
        dropped += [n for n in read if n not in dropped]
    static_checked = False
    if static:
        extra, static_checked = _static_findings(files, job.root, control)
        findings.extend(extra)
    not_checked = _never_trained(run, result, child, exc)
    if not_checked is not None and dropped:
        not_checked = f"{not_checked}; {dropped_hint(dropped)}"
    over: OverfitResult | None = None
    if overfit:
        left = deadline - time.monotonic()
        if not_checked is not None or left < MIN_PHASE_S:
            over = OverfitResult(
                verdict="inconclusive",
                reason="skipped: the script never reached a training step"
                if not_checked is not None
                else f"skipped: no time left of the {timeout_s:g} s budget",
                steps=0,
                step_budget=overfit_steps,
                classification=False,
            )
        else:
            over = _overfit(
                job,
                steps=batches,
                epochs=epochs,
                max_steps=bound,
                overfit_steps=overfit_steps,
                timeout_s=left,
                control=control,
                offset=epochs * batches,
                total=total,
                runner=runner,
            )
            if over.finding is not None:
                findings.extend(only_declared(judge_curve, [over.finding]))
            misaligned = judge_misaligned(run, ctx, overfit_passed=over.verdict == "passed")
            if misaligned is not None:
                findings.extend(only_declared(judge_misaligned, [misaligned]))
    control.progress(float(total), float(total), "check finished")
    loaders = [
        {k: v for k, v in ld.items() if isinstance(v, str | int | bool) or v is None}
        for ld in (run.summary.get("loaders") or [])
    ]
    return CheckReport(
        argv=list(argv),
        cwd=str(job.cwd),
        findings=merge_findings(findings),
        overfit=over,
        run=child,
        exception=exc,
        steps_observed=run.step_count,
        epochs_observed=max(
            (int(ld.get("epochs") or 0) for ld in loaders if ld.get("kind") == "train"), default=0
        ),
        loaders=loaders,
        inspected_files=files,
        static_checked=static_checked,
        duration_s=round(time.monotonic() - started, 3),
        not_checked=not_checked,
        launcher=job.command.launcher,
        processes=processes,
        dropped_env=dropped,
    )


TAIL_LINES_SHOWN = 5
"""Last output lines quoted when a script never trained: a traceback's end, a last log line."""


def _never_trained(
    run: ProbeRun, result: ChildResult, child: ChildRun, exc: UserException | None
) -> str | None:
    """Why the runtime checks saw nothing, or None when the script reached a training step.

    A script that hangs, times out, exits with an error, runs out of memory or simply ends
    without one optimizer step (or backward pass) gave the checks nothing to judge."""
    if run.step_count > 0:
        return None
    if exc is not None:
        why = f"it raised {exc.type}: {_one_line(exc.message)}"
    elif child.stopped_by == "time":
        why = (
            f"it was stopped at the time limit ({result.timeout_s * SOFT_STOP_SHARE:g} s of "
            f"{result.timeout_s:g} s) without a training step (a hang, or a slow start)"
        )
    elif result.cause == "ok" and child.stopped_by in ("finished", "epochs", "steps"):
        why = "it ended without a training step (no backward pass or optimizer step was seen)"
    else:
        why = result.describe()
    lines = [ln for ln in result.output_tail.splitlines() if ln.strip()][-TAIL_LINES_SHOWN:]
    shown = " | ".join(_one_line(ln) for ln in lines)
    tail = f"; its output ends with: {shown}" if shown and shown.strip("'") not in why else ""
    return f"the script never reached a training step: {why}{tail}"


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _overfit(
    job: _Job,
    *,
    steps: int,
    epochs: int,
    max_steps: int,
    overfit_steps: int,
    timeout_s: float,
    control: Control,
    offset: int,
    total: int,
    runner: ChildRunner = run_child,
) -> OverfitResult:
    run, result, _ = _run_probe(
        job,
        mode="overfit",
        bounds=_bounds(
            "overfit", steps, 1, epochs, max(max_steps, overfit_steps), overfit_steps, timeout_s
        ),
        timeout_s=timeout_s,
        control=control,
        progress_offset=offset,
        progress_total=total,
        runner=runner,
    )
    over = verdict(run, overfit_steps, _child_run("overfit", run, result))
    note = accumulation_note(run, over)
    if note is not None:
        over.reason = f"{over.reason}; {note}"
    return over


ACCUMULATION_MIN = 2
"""Backward passes per optimizer step from which a script counts as accumulating gradients."""


def accumulation_note(run: ProbeRun, over: OverfitResult) -> str | None:
    """Why an overfit run without a verdict made so few optimizer steps, when the script
    accumulates gradients (nanoGPT: 40 backward passes per step): its time went on micro-steps."""
    end = run.end
    steps = int(end.get("steps") or 0) if end else 0
    backwards = int(end.get("backwards") or 0) if end else 0
    stopped = over.run.stopped_by if over.run is not None else None
    if over.verdict != "inconclusive" or steps <= 0 or stopped not in ("time", "killed"):
        return None
    per_step = backwards / steps
    if per_step < ACCUMULATION_MIN:
        return None
    return (
        f"the script accumulates gradients over ~{per_step:.0f} backward passes per optimizer "
        f"step, so the time allowed only {steps} optimizer steps of the {over.step_budget}: give "
        "the check more time (--timeout) or fewer accumulation steps for the check"
    )


def overfit_test(
    argv: list[str],
    *,
    cwd: Path,
    overfit_steps: int = DEFAULT_OVERFIT_STEPS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    control: Control | None = None,
    guard: PathGuard | None = None,
    runner: ChildRunner = run_child,
    env: dict[str, str] | None = None,
    pass_env: list[str] | None = None,
) -> OverfitResult:
    """Only the single-batch overfit test of ``argv`` (see :func:`check_script`)."""
    control = control or Control()
    job = _job(argv, cwd, guard, env, pass_env, False)
    _check_int("overfit_steps", overfit_steps, 1, MAX_OVERFIT_STEPS)
    _check_timeout(timeout_s)
    result = _overfit(
        job,
        steps=DEFAULT_TRAIN_BATCHES,
        epochs=DEFAULT_EPOCHS,
        max_steps=DEFAULT_MAX_STEPS,
        overfit_steps=overfit_steps,
        timeout_s=timeout_s,
        control=control,
        offset=0,
        total=overfit_steps,
        runner=runner,
    )
    control.progress(float(overfit_steps), float(overfit_steps), "overfit test finished")
    return result


__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_TRAIN_BATCHES",
    "DEFAULT_VAL_BATCHES",
    "accumulation_note",
    "check_script",
    "overfit_test",
    "repo_root",
]
