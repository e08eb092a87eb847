"""The nine steps of seed 001 section 7: one answer model per step and one transition table.

Each step's answer is a pydantic model (strict: unknown fields are refused). :data:`STEPS` is the
transition table: what each step asks, which seed section it follows, which steps it needs
answered first (``requires``) and which evidence kinds it reads. Revising a step reopens every step
that depends on it, directly or through another (:func:`dependents`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dlpilot.errors import DlpilotError, InvalidArgument, ProjectError
from dlpilot.tools.trials import Objective, Param

Scalar = bool | int | float | str

TaskType = Literal["classification", "regression", "detection", "sequence", "other"]
Bottleneck = Literal["bugs", "bias", "variance", "mismatch", "stability", "data"]
Diagnosis = Literal[
    "bugs", "bias", "variance", "mismatch", "stability", "balanced", "insufficient data"
]
GoalKind = Literal[
    "fix-bugs", "reduce-bias", "reduce-variance", "reduce-mismatch", "stabilize", "improve-data"
]
EvidenceKind = Literal["project", "inspection", "check", "curves", "trials", "lr-range", "note"]


class RunbookError(InvalidArgument):
    """An answer, a transition or an operation the runbook refuses; the message names the step
    and the field."""


class StateFileError(ProjectError):
    """The runbook's state file cannot be used (corrupt, foreign, newer); never overwritten."""


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- step 1 -------------------------------------------------------------------------------------


class TaskAnswer(_Answer):
    """Step 1: the task type and the business goal (seed 001 sections 0 and 7.1)."""

    task_type: TaskType
    business_goal: str = Field(min_length=1, description="what the model is for, in one line")
    success_criteria: str = Field(default="", description="when it is good enough")


# --- step 2 -------------------------------------------------------------------------------------


class Constraint(_Answer):
    """A satisficing constraint: ``metric op threshold`` must hold (seed 001 section 1.1)."""

    metric: str = Field(min_length=1)
    op: Literal["<=", ">=", "<", ">"]
    threshold: float


class Splits(_Answer):
    """Where each split comes from (seed 001 section 1.2): a function, a file or a description."""

    train: str = Field(min_length=1)
    dev: str = Field(min_length=1)
    test: str | None = None
    train_dev: str | None = Field(default=None, description="held-out data from the train dist.")
    train_matches_deployment: bool = Field(
        default=True, description="False when training data differs from what is deployed"
    )

    @model_validator(mode="after")
    def _train_dev_when_mismatched(self) -> Splits:
        if not self.train_matches_deployment and not self.train_dev:
            raise ValueError(
                "train_dev is needed when training data differs from deployment "
                "(seed 001 section 1.2: compare train, train-dev and dev to see mismatch)"
            )
        return self


class MetricAnswer(_Answer):
    """Step 2: the single scalar metric, the constraints and the splits (seed 001 section 1)."""

    metric: str = Field(min_length=1, description="the optimizing metric, e.g. val/acc")
    direction: Literal["minimize", "maximize"]
    formula: str = Field(default="", description="when the score combines several metrics")
    other_metrics: list[str] = Field(default_factory=list, description="reported, not optimized")
    constraints: list[Constraint] = Field(default_factory=list)
    splits: Splits


# --- step 3 -------------------------------------------------------------------------------------


class BaselineAnswer(_Answer):
    """Step 3: the baseline, found (``exists``) or proposed from seed 001 section 2."""

    exists: bool = Field(description="the project already trains a baseline")
    source: str = Field(default="", description="where it comes from, e.g. train.py's defaults")
    architecture: str = Field(min_length=1, description="family and size")
    optimizer: str = Field(min_length=1)
    batch_size: int | None = Field(default=None, ge=1)
    schedule: str = Field(min_length=1, description="constant, linear or cosine decay, warmup")
    training_steps: str = Field(min_length=1, description="epochs or steps, e.g. '8 epochs'")
    command: str = Field(default="", description="how it runs; {trial_dir} is its output dir")
    config: dict[str, Scalar] = Field(
        default_factory=dict, description="the baseline's hyperparameter values, by flag"
    )
    value: float | None = Field(default=None, description="its score on the step 2 metric")


# --- step 4 -------------------------------------------------------------------------------------


class BottleneckAnswer(_Answer):
    """Step 4: the current bottleneck (seed 001 sections 3.3, 4 and 5.2), with the numbers."""

    bottleneck: Bottleneck
    numbers: dict[str, float] = Field(default_factory=dict, description="errors and gaps")
    findings: list[str] = Field(default_factory=list, description="finding ids behind it")
    evidence: list[str] = Field(default_factory=list, description="evidence ids behind it")
    explanation: str = Field(min_length=1)

    @model_validator(mode="after")
    def _bugs_have_findings(self) -> BottleneckAnswer:
        if self.bottleneck == "bugs" and not self.findings:
            raise ValueError("findings: a 'bugs' bottleneck names the finding ids to fix")
        return self


# --- step 5 -------------------------------------------------------------------------------------


class GoalAnswer(_Answer):
    """Step 5: one main goal, one question, for this round (seed 001 section 3.1)."""

    kind: GoalKind
    question: str = Field(min_length=1, description="the one question this round answers")
    targets: list[str] = Field(
        default_factory=list, description="the hyperparameters the question compares"
    )
    actions: list[str] = Field(default_factory=list, description="what the round tries")


# --- step 6 -------------------------------------------------------------------------------------


class StudyAnswer(_Answer):
    """Step 6: the study design (seed 001 sections 3.2 and 5.1). ``params`` uses the round
    file's parameter models (role target / nuisance / fixed, bounds, log or linear)."""

    params: dict[str, Param]
    objective: Objective
    sampler: Literal["qmc", "tpe", "gp", "random", "grid"] = Field(
        description="exploration: qmc or random; exploitation: tpe or gp"
    )
    trials: int = Field(ge=1, le=100_000, description="the trial budget")
    seed_reruns: int = Field(default=0, ge=0, description="top configs re-run with new seeds")
    compute_bound: bool = False
    stage: Literal[1, 2] | None = Field(
        default=None, description="compute-bound two-stage plan: 1 short runs, 2 near-full runs"
    )
    stage_fraction: float | None = Field(
        default=None, gt=0, le=1, description="fraction of full training each trial runs"
    )

    @model_validator(mode="after")
    def _design(self) -> StudyAnswer:
        if not any(p.role == "target" for p in self.params.values()):
            raise ValueError("params: name at least one target hyperparameter (section 3.2)")
        if self.compute_bound and self.stage is None:
            raise ValueError(
                "stage: a compute-bound project follows the two-stage plan (section 5.1)"
            )
        return self


# --- step 7 -------------------------------------------------------------------------------------


class TrialsAnswer(_Answer):
    """Step 7: the concrete round file, as its fields (``dlpilot trials run`` takes it)."""

    round: dict[str, Any] = Field(
        description="the RoundFile's fields; workdir is relative to the project (the file is "
        "written under .dlpilot/runbook/rounds/<n>/round.toml)"
    )


# --- step 8 -------------------------------------------------------------------------------------


class BoundaryHit(_Answer):
    param: str
    side: Literal["low", "high"]
    value: float


class AnalysisAnswer(_Answer):
    """Step 8: after results, the boundary check, curve analysis, diagnosis and error-analysis
    suggestions (seed 001 section 3.3)."""

    study: str = Field(min_length=1)
    best_value: float | None = None
    best_params: dict[str, Scalar] = Field(default_factory=dict)
    boundary: list[BoundaryHit] = Field(default_factory=list)
    curves: list[str] = Field(default_factory=list, description="what the top curves show")
    diagnosis: Diagnosis
    numbers: dict[str, float] = Field(default_factory=dict)
    error_analysis: list[str] = Field(default_factory=list)


# --- step 9 -------------------------------------------------------------------------------------


class DecisionAnswer(_Answer):
    """Step 9: promote the new baseline or not, and the next round's goal (section 3.4)."""

    promote: bool
    reason: str = Field(min_length=1)
    improvement: float | None = Field(default=None, description="best minus baseline, signed")
    seed_spread: float | None = Field(default=None, ge=0)
    new_baseline: dict[str, Scalar] | None = None
    next_goal: str = Field(min_length=1)
    next_bottleneck: Bottleneck | None = None

    @model_validator(mode="after")
    def _promotion(self) -> DecisionAnswer:
        if self.promote and not self.new_baseline:
            raise ValueError("new_baseline: a promotion names the configuration promoted")
        if (
            self.promote
            and self.improvement is not None
            and self.seed_spread is not None
            and abs(self.improvement) <= self.seed_spread
        ):
            raise ValueError(
                f"promote: the improvement {self.improvement:g} does not exceed the seed spread "
                f"{self.seed_spread:g} (seed 001 section 3.4: keep the baseline)"
            )
        return self


# --- the transition table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One row of the transition table."""

    number: int
    name: str
    title: str
    question: str
    seed: str
    model: type[_Answer]
    requires: tuple[int, ...]
    evidence: tuple[EvidenceKind, ...] = ()


STEPS: dict[int, Step] = {
    s.number: s
    for s in (
        Step(1, "task", "Task type and business goal",
             "What kind of task is this (classification, regression, detection, sequence, other) "
             "and what is the model for?", "001 §0, §7.1", TaskAnswer, (), ("project",)),
        Step(2, "metric", "Metric, constraints and data splits",
             "Which single scalar metric selects models, under which constraints, and where do "
             "train, dev and test (and train-dev) come from?", "001 §1, §7.2", MetricAnswer, (1,),
             ("project",)),
        Step(3, "baseline", "Baseline",
             "What is the baseline (architecture and size, optimizer, batch size, schedule, "
             "training length)? Propose one when there is none.", "001 §2, §7.3",
             BaselineAnswer, (2,), ("project",)),
        Step(4, "bottleneck", "Current bottleneck",
             "What limits the model now: bugs, bias, variance, mismatch, stability or data?",
             "001 §3.3, §4, §5.2, §7.4", BottleneckAnswer, (3,),
             ("inspection", "check", "curves")),
        Step(5, "goal", "One main goal",
             "What one question does this round answer?", "001 §3.1, §4.1, §7.5", GoalAnswer,
             (4,)),
        Step(6, "study", "Study design",
             "Which hyperparameters are target, nuisance and fixed; their search spaces; the "
             "search algorithm and the trial budget?", "001 §3.2, §5.1, §7.6", StudyAnswer,
             (3, 5), ("project", "lr-range")),
        Step(7, "trials", "Trial configs",
             "What round file runs this study?", "001 §7.7", TrialsAnswer, (6,), ("project",)),
        Step(8, "analysis", "Results analysis",
             "What do the results say: boundary hits, the top trials' curves, bias / variance / "
             "mismatch, error-analysis suggestions?", "001 §3.3, §7.8", AnalysisAnswer, (7,),
             ("trials", "curves")),
        Step(9, "decision", "Baseline decision and next goal",
             "Promote the new configuration or keep the baseline, and what is the next round's "
             "main goal?", "001 §3.4, §7.9", DecisionAnswer, (8,), ("trials",)),
    )
}  # fmt: skip

CARRIED_STEPS = (1, 2, 3)
"""Steps a new round takes over from the round before: it starts at step 4."""


def step_of(value: int | str) -> Step:
    """The step numbered ``value`` (1-9) or named ``value`` (``task`` ... ``decision``)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value in STEPS:
        return STEPS[value]
    for step in STEPS.values():
        if step.name == value:
            return step
    names = ", ".join(f"{s.number} {s.name}" for s in STEPS.values())
    raise RunbookError(f"no step {value!r}: the steps are {names}")


def dependents(number: int) -> list[int]:
    """Every step that needs ``number`` answered, directly or through another, in order."""
    found: set[int] = set()
    frontier = [number]
    while frontier:
        current = frontier.pop()
        for step in STEPS.values():
            if current in step.requires and step.number not in found:
                found.add(step.number)
                frontier.append(step.number)
    return sorted(found)


def prerequisites(number: int) -> list[int]:
    """Every step ``number`` needs, directly or through another, in order."""
    found: set[int] = set()
    frontier = list(STEPS[number].requires)
    while frontier:
        current = frontier.pop()
        if current not in found:
            found.add(current)
            frontier.extend(STEPS[current].requires)
    return sorted(found)


def validate_answer(step: Step, data: Any) -> _Answer:
    """``data`` as ``step``'s answer model; the error names the step and each bad field."""
    if isinstance(data, step.model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if not isinstance(data, dict):
        raise RunbookError(
            f"step {step.number} ({step.name}): the answer must be an object of fields, "
            f"got {type(data).__name__}"
        )
    try:
        return step.model.model_validate(data)
    except ValidationError as exc:
        raise RunbookError(f"step {step.number} ({step.name}): {explain(exc)}") from exc


def explain(exc: ValidationError) -> str:
    """Pydantic's errors as ``field 'a.b' ...`` parts, each naming the field and the value."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if not _is_union_tag(p))
        kind = err.get("type")
        if kind == "missing":
            parts.append(f"field {loc!r} is missing")
        elif kind == "extra_forbidden":
            parts.append(f"field {loc!r} is not a field of this step")
        else:
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            value = repr(err.get("input"))
            value = value if len(value) <= 80 else value[:77] + "..."
            where = f"field {loc!r}" if loc else "answer"
            parts.append(f"{where} = {value}: {msg}")
    return "; ".join(parts)


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (
        part in {"float", "int", "categorical", "fixed"} or "[" in part
    )


def json_schema(step: Step) -> dict[str, Any]:
    return step.model.model_json_schema()


__all__ = [
    "CARRIED_STEPS",
    "STEPS",
    "AnalysisAnswer",
    "BaselineAnswer",
    "BottleneckAnswer",
    "BoundaryHit",
    "Constraint",
    "DecisionAnswer",
    "DlpilotError",
    "GoalAnswer",
    "MetricAnswer",
    "RunbookError",
    "Splits",
    "StateFileError",
    "Step",
    "StudyAnswer",
    "TaskAnswer",
    "TrialsAnswer",
    "dependents",
    "explain",
    "prerequisites",
    "step_of",
    "validate_answer",
]
