"""What the runbook's operations return (typed, so the MCP tools get output schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, JsonValue

from dlpilot.runbook._state import Event, EvidenceRecord


class StepView(BaseModel):
    """One step as the status shows it."""

    step: int
    name: str
    title: str
    state: str = Field(description="answered, open (can be answered now) or waiting")
    summary: str = ""


class Status(BaseModel):
    """Where the runbook stands: the round, the current step and its question, the evidence so
    far and what is missing."""

    project: str
    state_file: str
    round: int
    rounds_closed: int
    step: int | None = Field(description="the step to answer next; None when the round is done")
    name: str | None = None
    question: str = ""
    seed: str = Field(default="", description="the seed 001 sections the step follows")
    answer_schema: dict[str, Any] = Field(default_factory=dict)
    evidence: list[EvidenceRecord] = Field(
        default_factory=list, description="evidence the current step reads"
    )
    missing: list[str] = Field(default_factory=list, description="what the step still needs")
    blocked: str | None = Field(default=None, description="why the round cannot go on")
    steps: list[StepView] = Field(default_factory=list)
    baseline: dict[str, JsonValue] = Field(default_factory=dict)


class Proposal(BaseModel):
    """The rules' answer for a step, with why (citing the evidence and the seed section)."""

    step: int
    name: str
    answer: dict[str, JsonValue]
    why: str
    evidence: list[str] = Field(default_factory=list, description="evidence ids it rests on")
    seed: str = ""


class AnswerResult(BaseModel):
    """An answer accepted: the step, the next one, and a new round when step 9 closed one."""

    step: int
    name: str
    accepted: bool = True
    next_step: int | None
    round: int
    new_round: int | None = Field(default=None, description="set when step 9 closed the round")
    files: list[str] = Field(default_factory=list, description="files written (step 7)")
    message: str = ""


class RevisionResult(BaseModel):
    """A step reopened, with the steps that depended on it."""

    step: int
    name: str
    reopened: list[int] = Field(description="the step and its dependents, cleared")
    message: str


class RoundHistory(BaseModel):
    number: int
    started: str
    closed: str | None
    answers: dict[int, dict[str, JsonValue]]
    round_file: str | None
    baseline: dict[str, JsonValue]
    decision: dict[str, JsonValue] | None


class History(BaseModel):
    """Every round kept, and every event."""

    rounds: list[RoundHistory]
    events: list[Event]
    evidence: list[EvidenceRecord] = Field(default_factory=list)


class GatherResult(BaseModel):
    """Evidence the runbook read itself (static: it runs nothing)."""

    added: list[EvidenceRecord]
    skipped: list[str] = Field(default_factory=list)


__all__ = [
    "AnswerResult",
    "GatherResult",
    "History",
    "Proposal",
    "RevisionResult",
    "RoundHistory",
    "Status",
    "StepView",
]
