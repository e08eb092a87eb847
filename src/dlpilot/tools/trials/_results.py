"""The typed results of a round: each trial's record and the study summary.

``StudySummary`` is the public JSON of ``dlpilot trials summary NAME --json`` and what the runbook
reads at steps 8 and 9::

    {"study", "direction", "best": {"number", "value", "params"},
     "trials": [{"number", "state", "params", "value", "last_step", "exit_cause", "seconds",
                 "dir", ...}],
     "findings": [...]}

These models are light (pydantic only), so the server can import them for its output schemas.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dlpilot.findings import Finding

TrialState = Literal["complete", "pruned", "failed", "running", "waiting"]
"""Where a trial stands. ``failed`` covers every exit cause other than completed and pruned."""

ExitCause = Literal["completed", "pruned", "oom", "nonfinite", "timeout", "crashed", "no-metrics"]
"""Why a finished trial ended. ``oom`` and ``nonfinite`` trials are *infeasible* points of the
search space (seed 001 section 3.3: "many divergent points"), not failures of the round."""

TrialKind = Literal["search", "baseline", "seed-rerun"]
"""``search``: chosen by the sampler; ``baseline``: the round's baseline, enqueued first;
``seed-rerun``: an earlier configuration run again with another seed (seed 001 section 3.4)."""

ParamValue = bool | int | float | str


class TrialRecord(BaseModel):
    """One trial as recorded: what ran, where, how it ended and what it scored."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=0)
    state: TrialState
    kind: TrialKind = "search"
    params: dict[str, ParamValue] = Field(default_factory=dict)
    seed: int | None = None
    value: float | None = Field(default=None, description="the objective, when it has one")
    best_step: int | None = Field(default=None, description="the step the value was taken at")
    last_step: int | None = Field(default=None, description="the last step its metrics reached")
    exit_cause: ExitCause | None = None
    exit_detail: str = Field(default="", description="exit code or signal, the error line")
    seconds: float | None = None
    dir: str | None = Field(default=None, description="the trial directory")
    command: list[str] = Field(default_factory=list, description="the command as run")
    slot: str | None = Field(default=None, description='"cuda:0", "cpu:1", ...')
    git_commit: str | None = None
    git_dirty: bool | None = None
    started: str | None = Field(default=None, description="ISO 8601, UTC")
    ended: str | None = None
    worker: str | None = Field(default=None, description="host:pid of the runner that ran it")
    output_tail: str = ""


class BestTrial(BaseModel):
    """The best finished trial of the round."""

    number: int
    value: float
    params: dict[str, ParamValue]


class TargetValueResult(BaseModel):
    """The round's answer for one value of a target parameter (seed 001 section 3.2: each target
    value with its nuisance parameters tuned)."""

    param: str
    value: ParamValue
    best_value: float | None
    best_trial: int | None
    trials: int = Field(description="finished trials at this value")


class RoundAnswer(BaseModel):
    """The round's question answered: the best objective per target value (or along a continuous
    target's axis), and whether the differences exceed the seed-to-seed noise."""

    targets: list[str] = Field(default_factory=list)
    per_value: list[TargetValueResult] = Field(default_factory=list)
    seed_spread: float | None = Field(
        default=None, description="std of the objective over seed re-runs of one configuration"
    )
    exceeds_noise: bool | None = Field(
        default=None, description="whether the best differences exceed the seed spread"
    )
    text: str = ""


class StudySummary(BaseModel):
    """A round's trials, its best point, its answer and the playbook's findings."""

    study: str
    direction: Literal["minimize", "maximize"]
    metric: str = ""
    storage: str = ""
    best: BestTrial | None = None
    baseline: TrialRecord | None = None
    trials: list[TrialRecord] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="trials per state")
    answer: RoundAnswer | None = None
    findings: list[Finding] = Field(default_factory=list)


__all__ = [
    "BestTrial",
    "ExitCause",
    "ParamValue",
    "RoundAnswer",
    "StudySummary",
    "TargetValueResult",
    "TrialKind",
    "TrialRecord",
    "TrialState",
]
