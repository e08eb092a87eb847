"""Typed results of the runtime checks (pydantic; the server adapts them, never the reverse)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dlpilot.findings import Finding

StopReason = Literal[
    "finished", "epochs", "steps", "time", "overfit-steps", "exception", "exit", "killed"
]
"""Why the probed script stopped: it ended on its own (``finished``), a bound was reached
(``epochs``, ``steps``, ``time``, ``overfit-steps``), it raised (``exception``), it called
``sys.exit`` with an error code (``exit``), or the process died before the probe could say
(``killed``: timeout, out of memory, a signal, cancellation)."""


class ChildRun(BaseModel):
    """How one probed child process ended."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["script", "overfit"]
    cause: str = Field(
        description="the runner's cause: ok, exit, crash, signal, timeout, oom, cancelled"
    )
    stopped_by: StopReason
    exit_code: int | None
    wall_s: float
    steps: int = Field(description="optimizer steps observed (backward calls if none)")
    summary: str = Field(description="one line for a person")
    output_tail: str = ""


class UserException(BaseModel):
    """The exception that ended the user's script, at its user-code frame."""

    model_config = ConfigDict(extra="forbid")

    type: str
    message: str
    file: str | None = None
    line: int | None = None
    code: str | None = None
    step: int | None = None
    traceback_tail: str = ""


class ProcessInfo(BaseModel):
    """One Python process of a launched command (``torchrun``, ``bash run.sh``) that imported
    torch, as its probe saw it."""

    model_config = ConfigDict(extra="forbid")

    pid: int
    rank: int | None = Field(default=None, description="RANK set by a distributed launcher")
    local_rank: int | None = None
    world_size: int | None = None
    argv: list[str] = Field(default_factory=list)
    steps: int = Field(description="optimizer steps observed (backward calls if none)")
    exception: str | None = Field(default=None, description="the type of exception it raised")
    primary: bool = Field(description="whether the runtime findings come from this process")


class OverfitResult(BaseModel):
    """The single-batch overfit test (seed 004, section 1): with dropout, weight decay, label
    smoothing and schedulers off and the first batch replayed, can the model fit it? One model for
    both modes; the fields after ``accuracies`` that only one mode knows are None in the other."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["passed", "failed", "inconclusive"]
    reason: str
    steps: int
    step_budget: int
    classification: bool
    initial_loss: float | None = None
    final_loss: float | None = Field(default=None, description="lowest loss of the final window")
    loss_threshold: float | None = None
    final_accuracy: float | None = None
    accuracy_threshold: float | None = None
    still_falling: bool = False
    losses: list[float | None] = Field(
        default_factory=list, description="loss per step; None where none was seen or not finite"
    )
    accuracies: list[float | None] = Field(
        default_factory=list, description="batch accuracy per step (classification)"
    )
    finding: Finding | None = None
    run: ChildRun | None = Field(default=None, description="script mode: the overfit-mode child")
    batch_size: int | None = Field(default=None, description="entry mode: samples in the batch")
    lr: float | None = Field(default=None, description="entry mode: the optimizer's learning rate")
    dropout_modules_disabled: int | None = Field(
        default=None, description="entry mode: dropout modules put in eval mode"
    )
    weight_decay_groups_zeroed: int | None = Field(
        default=None, description="entry mode: optimizer groups whose weight decay was set to 0"
    )


class CheckReport(BaseModel):
    """What running a training script under the probe showed."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str]
    cwd: str
    findings: list[Finding]
    overfit: OverfitResult | None = None
    run: ChildRun
    exception: UserException | None = None
    steps_observed: int
    epochs_observed: int
    loaders: list[dict[str, str | int | bool | None]] = Field(default_factory=list)
    inspected_files: list[str] = Field(
        default_factory=list, description="user files read by the static rules"
    )
    static_checked: bool = False
    duration_s: float
    not_checked: str | None = Field(
        default=None,
        description=(
            "why the runtime checks saw nothing: the script never reached a training step "
            "(timeout, exit code, out of memory, the last output lines); None when it trained"
        ),
    )
    launcher: str | None = Field(
        default=None, description="torchrun, accelerate, bash or make; None for plain Python"
    )
    processes: list[ProcessInfo] = Field(
        default_factory=list, description="under a launcher: each process that imported torch"
    )
    dropped_env: list[str] = Field(
        default_factory=list,
        description=(
            "variables of dlpilot's environment the sandbox did not pass and the script failed "
            "on (pass them with --pass-env NAME)"
        ),
    )

    @property
    def ok(self) -> bool:
        """No error or warning finding."""
        return not any(f.severity.value in ("error", "warning") for f in self.findings)


__all__ = [
    "CheckReport",
    "ChildRun",
    "OverfitResult",
    "ProcessInfo",
    "StopReason",
    "UserException",
]
