"""The persisted state of a project's runbook: every round, its answers, evidence and decisions.

One JSON document (``.dlpilot/runbook/state.json``), tagged with :data:`SCHEMA` and
:data:`VERSION` so a foreign or newer file is recognised and refused, never overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from dlpilot.runbook._steps import EvidenceKind

SCHEMA = "dlpilot.runbook.state"
VERSION = 1


def now() -> str:
    """The time as ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class EvidenceRecord(BaseModel):
    """A result another tool produced, kept with where it came from."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="e1, e2, ... unique in the state")
    kind: EvidenceKind
    source: str = Field(description="where it came from: tool, command, path")
    summary: str = ""
    at: str = Field(default_factory=now)
    data: dict[str, JsonValue] = Field(default_factory=dict)


class StepRecord(BaseModel):
    """One answered step: the answer (as the step's model dumps it), who gave it and why."""

    model_config = ConfigDict(extra="forbid")

    step: int
    answer: dict[str, JsonValue]
    by: str = Field(default="", description="rules, claude, a person, an MCP client")
    why: str = ""
    evidence: list[str] = Field(default_factory=list)
    at: str = Field(default_factory=now)
    carried_from: int | None = Field(default=None, description="the round it was taken over from")


class Event(BaseModel):
    """One line of the history: answered, revised, reopened, evidence, round started / closed."""

    model_config = ConfigDict(extra="forbid")

    at: str = Field(default_factory=now)
    round: int
    kind: Literal["round", "answer", "revise", "evidence", "close"]
    step: int | None = None
    text: str = ""


class RoundState(BaseModel):
    """One round of the tuning loop (seed 001 section 3: one round = one main question)."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1)
    started: str = Field(default_factory=now)
    closed: str | None = None
    answers: dict[int, StepRecord] = Field(default_factory=dict)
    round_file: str | None = Field(default=None, description="step 7's file, project-relative")
    baseline: dict[str, JsonValue] = Field(
        default_factory=dict, description="the baseline this round started from"
    )
    decision: dict[str, JsonValue] | None = None


class RunbookState(BaseModel):
    """Every round of one project; the last one is the current round."""

    schema_: str = Field(default=SCHEMA, alias="schema")
    version: int = VERSION
    project: str = Field(description="the project directory, absolute, when created")
    created: str = Field(default_factory=now)
    updated: str = Field(default_factory=now)
    rounds: list[RoundState] = Field(default_factory=lambda: [RoundState(number=1)])
    evidence: list[EvidenceRecord] = Field(default_factory=list)
    history: list[Event] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def current(self) -> RoundState:
        return self.rounds[-1]

    def next_evidence_id(self) -> str:
        return f"e{len(self.evidence) + 1}"

    def latest(self, kind: str) -> EvidenceRecord | None:
        """The newest evidence of ``kind``."""
        return next((e for e in reversed(self.evidence) if e.kind == kind), None)

    def evidence_by_id(self, eid: str) -> EvidenceRecord | None:
        return next((e for e in self.evidence if e.id == eid), None)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


__all__ = [
    "SCHEMA",
    "VERSION",
    "Event",
    "EvidenceRecord",
    "RoundState",
    "RunbookState",
    "StepRecord",
    "now",
]
