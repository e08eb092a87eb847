"""The typed results of the curve tools, apart from the code that computes them.

Nothing here imports numpy: the MCP server imports these models when it starts (their JSON
schemas are the tools' output schemas), and the computation is loaded only when a tool runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dlpilot.findings import Finding

Goal = Literal["min", "max"]


Verdict = Literal[
    "high bias", "high variance", "data mismatch", "instability", "balanced", "insufficient data"
]


class ErrorBreakdown(BaseModel):
    """The error structure of one run and what it says to do next."""

    model_config = ConfigDict(extra="forbid")

    run: str
    metric: str | None = Field(description="the quantity the error is made from, e.g. acc, loss")
    error_definition: str | None = Field(description="how error is computed from the metric")
    fraction_error: bool = Field(description="errors are fractions in [0, 1] (from accuracy)")
    reference_step: int | None = Field(
        description="step the errors are read at: the last step of training"
    )
    best_dev_step: int | None = Field(default=None, description="step of the lowest dev error")
    best_dev_error: float | None = Field(default=None, description="lowest (smoothed) dev error")
    target_error: float | None
    train_error: float | None
    train_dev_error: float | None
    dev_error: float | None
    test_error: float | None
    avoidable_bias: float | None = Field(description="train error - target error")
    variance: float | None = Field(
        description="train-dev error - train error (dev - train when there is no train-dev)"
    )
    mismatch: float | None = Field(description="dev error - train-dev error")
    dev_test_gap: float | None = Field(description="test error - dev error (overfit to dev)")
    significant: list[str] = Field(default_factory=list, description="gaps that count")
    verdict: Verdict
    missing: list[str] = Field(default_factory=list)
    next_actions: list[str] = Field(default_factory=list)
    explanation: str = ""


class MetricSummary(BaseModel):
    """One series in numbers. ``best_*`` need a goal (inferred from the name, e.g. loss = min)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    original: str
    points: int = Field(description="number of logged points, finite or not")
    nonfinite_points: int
    first_nonfinite_step: int | None
    first_step: int | None
    last_step: int | None
    first_value: float | None = Field(description="first finite value")
    last_value: float | None = Field(description="last finite value")
    goal: Goal | None
    best_value: float | None
    best_step: int | None
    best_position: float | None = Field(
        default=None,
        description="where the best point lies in training, 0 = first logged step, 1 = last",
    )
    late_step_std: float | None = Field(
        default=None,
        description="standard deviation of step-to-step changes over the last 25% of points",
    )
    late_relative_std: float | None = Field(
        default=None, description="late_step_std divided by the mean absolute late value"
    )


class RunSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    source: str
    format: str
    first_step: int | None
    last_step: int | None
    metrics: list[MetricSummary]
    warnings: list[str] = Field(default_factory=list)
    resumed_at: list[int] = Field(
        default_factory=list,
        description="steps a resumed run continued from (its step counter went back there); "
        "the points after each are a continuation, earlier points at or after it were dropped",
    )

    def metric(self, name: str) -> MetricSummary | None:
        return next((m for m in self.metrics if m.name == name), None)


class RunRank(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rank: int = Field(description="1 = best")
    run: str
    metric: str = Field(description="the series used in this run")
    best_value: float
    best_step: int
    best_position: float
    last_value: float
    last_step: int
    points: int


class RunComparison(BaseModel):
    """Runs side by side on one metric, best first."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    goal: Goal
    ranking: list[RunRank]
    missing: list[str] = Field(
        default_factory=list, description="runs without the metric or with no finite value of it"
    )


class SeriesView(BaseModel):
    """A series downsampled to a bounded number of points (min/max buckets keep the spikes).

    ``values`` holds None where the log had NaN or an infinity; at most the first non-finite
    point of each stretch is kept, so a run that went to NaN shows where it did.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    original: str
    total_points: int
    nonfinite_points: int
    steps: list[int]
    values: list[float | None]


class RunView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    source: str
    format: str
    series: list[SeriesView]
    warnings: list[str] = Field(default_factory=list)


class RunsView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_series: int
    runs: list[RunView]


class RunDiagnosis(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    summary: RunSummary
    findings: list[Finding]
    breakdown: ErrorBreakdown
    verdict: Verdict
    next_actions: list[str]


class CurveDiagnosis(BaseModel):
    """What the curves of one or more runs say. ``verdict``, ``missing`` and ``next_actions``
    are those of ``primary_run``; ``findings`` merges every run's findings (one per id, with an
    evidence entry per run, each naming its run in ``detail["run"]``)."""

    model_config = ConfigDict(extra="forbid")

    primary_run: str
    verdict: Verdict
    missing: list[str] = Field(default_factory=list)
    next_actions: list[str] = Field(default_factory=list)
    findings: list[Finding]
    runs: list[RunDiagnosis]
    comparison: RunComparison | None = Field(
        default=None,
        description="several runs ranked on the dev metric, best first (the primary run leads)",
    )

    def run(self, name: str) -> RunDiagnosis | None:
        return next((r for r in self.runs if r.run == name), None)

    @property
    def ids(self) -> set[str]:
        return {f.id for f in self.findings}
