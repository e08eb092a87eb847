"""The runbook's operations as one registry: what the MCP server registers as tools and what the
Claude driver gives the model, so the two cannot drift apart.

Each :class:`Op` is a plain function ``run(runbook, args) -> result`` with a pydantic input model
(its JSON schema is the tool's input schema) and a pydantic output model. The project is not an
argument: the caller binds the :class:`Runbook` (the server from its allowed roots, the driver
from its command line). :func:`call` validates raw arguments and runs an op; a bad argument or a
refused answer raises :class:`RunbookError` whose message is meant to go back to the caller as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from dlpilot.runbook._machine import Runbook
from dlpilot.runbook._results import (
    AnswerResult,
    GatherResult,
    History,
    Proposal,
    RevisionResult,
    Status,
)
from dlpilot.runbook._state import EvidenceRecord
from dlpilot.runbook._steps import EvidenceKind, RunbookError, explain


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusInput(_Input):
    """No arguments."""


class ProposeInput(_Input):
    step: int | None = Field(default=None, ge=1, le=9, description="default: the current step")


class AnswerInput(_Input):
    step: int = Field(ge=1, le=9, description="the step answered (the current one)")
    answer: dict[str, JsonValue] | None = Field(
        default=None, description="the step's answer, fields as in the status's answer_schema"
    )
    accept_proposal: bool = Field(
        default=False, description="answer with the rules' proposal instead of `answer`"
    )
    why: str = Field(default="", description="the reasoning and evidence behind the answer")


class ReviseInput(_Input):
    step: int = Field(ge=1, le=9, description="the step to reopen (its dependents reopen too)")


class HistoryInput(_Input):
    """No arguments."""


class EvidenceInput(_Input):
    kind: EvidenceKind
    source: str = Field(min_length=1, description="where it came from: tool, command, path")
    summary: str = ""
    data: dict[str, JsonValue] = Field(description="the tool's result as JSON")


class GatherInput(_Input):
    kinds: list[Literal["project", "inspection", "curves"]] = Field(
        default_factory=lambda: ["project", "inspection"],  # type: ignore[arg-type]
        description="static evidence to read (nothing is run)",
    )
    curves: str | None = Field(
        default=None, description="a metrics file or run directory inside the project"
    )


@dataclass(frozen=True)
class Op:
    """One runbook operation."""

    name: str
    description: str
    input: type[BaseModel]
    output: type[BaseModel]
    run: Callable[[Runbook, Any], BaseModel]
    read_only: bool = False

    def input_schema(self) -> dict[str, Any]:
        return self.input.model_json_schema()

    def tool(self) -> dict[str, Any]:
        """The op as a tool definition: ``{"name", "description", "input_schema"}``."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema(),
        }


def _status(rb: Runbook, _: StatusInput) -> Status:
    return rb.status()


def _propose(rb: Runbook, args: ProposeInput) -> Proposal:
    return rb.propose(args.step)


def _answer(rb: Runbook, args: AnswerInput) -> AnswerResult:
    if args.accept_proposal:
        if args.answer is not None:
            raise RunbookError("give either answer or accept_proposal, not both")
        proposal = rb.propose(args.step)
        why = args.why or f"accepted the rules' proposal: {proposal.why}"
        return rb.answer(args.step, proposal.answer, by="agent", why=why,
                         evidence=proposal.evidence)  # fmt: skip
    if args.answer is None:
        raise RunbookError(f"step {args.step}: field 'answer' is missing (or accept_proposal)")
    return rb.answer(args.step, args.answer, by="agent", why=args.why)


def _revise(rb: Runbook, args: ReviseInput) -> RevisionResult:
    return rb.revise(args.step)


def _history(rb: Runbook, _: HistoryInput) -> History:
    return rb.history()


def _evidence(rb: Runbook, args: EvidenceInput) -> EvidenceRecord:
    return rb.add_evidence(args.kind, args.source, dict(args.data), args.summary)


def _gather(rb: Runbook, args: GatherInput) -> GatherResult:
    from dlpilot.runbook._rules import gather

    curves = None
    if args.curves is not None:
        shown = args.curves if len(args.curves) <= 200 else args.curves[:197] + "..."
        if "\x00" in args.curves:
            raise RunbookError(f"curves = {shown!r} contains a NUL byte")
        try:
            curves = (rb.project / args.curves).resolve()
        except (OSError, ValueError) as exc:
            raise RunbookError(f"curves = {shown!r} is not a usable path: {exc}") from exc
        if not curves.is_relative_to(rb.project):
            raise RunbookError(f"curves = {args.curves!r} is outside the project {rb.project}")
    result: GatherResult = gather(rb, list(args.kinds), curves=curves)
    return result


OPS: tuple[Op, ...] = (
    Op("runbook_status",
       "Where the optimization runbook (seed 001 section 7) stands: the round, the current step's "
       "question and answer schema, the evidence so far, what is missing, and every step's state.",
       StatusInput, Status, _status, read_only=True),
    Op("runbook_propose",
       "The deterministic rules' answer for a step (default: the current one), with why, citing "
       "the evidence and the seed section. Records the static evidence it reads.",
       ProposeInput, Proposal, _propose),
    Op("runbook_answer",
       "Answer the current step (fields as in the status's answer_schema), or accept the rules' "
       "proposal. A wrong answer is refused with the step and the field; step 9 closes the round "
       "and opens the next at step 4.",
       AnswerInput, AnswerResult, _answer),
    Op("runbook_revise",
       "Reopen a step of the current round; the steps that depend on it reopen too (listed).",
       ReviseInput, RevisionResult, _revise),
    Op("runbook_history",
       "Every round kept: answers, baselines, round files, decisions, events and evidence.",
       HistoryInput, History, _history, read_only=True),
    Op("runbook_add_evidence",
       "Record another tool's result (inspection, check, curves, trials summary, LR range test) "
       "as evidence, with where it came from.",
       EvidenceInput, EvidenceRecord, _evidence),
    Op("runbook_gather",
       "Read static evidence into the runbook: the project scan (entry point, flags, defaults), "
       "the static inspection, curves from a metrics path. Runs no code.",
       GatherInput, GatherResult, _gather),
)  # fmt: skip

OPS_BY_NAME: dict[str, Op] = {op.name: op for op in OPS}


def get_op(name: str) -> Op:
    try:
        return OPS_BY_NAME[name]
    except KeyError:
        raise RunbookError(
            f"no runbook operation {name!r}; the operations are {', '.join(OPS_BY_NAME)}"
        ) from None


def call(runbook: Runbook, name: str, arguments: Mapping[str, Any] | None = None) -> BaseModel:
    """Validate ``arguments`` against the op's input model and run it."""
    op = get_op(name)
    try:
        args = op.input.model_validate(dict(arguments or {}))
    except ValidationError as exc:
        raise RunbookError(f"{name}: {explain(exc)}") from exc
    return op.run(runbook, args)


def open_runbook(project: str | Path) -> Runbook:
    return Runbook(project)


__all__ = [
    "OPS",
    "OPS_BY_NAME",
    "AnswerInput",
    "EvidenceInput",
    "GatherInput",
    "HistoryInput",
    "Op",
    "ProposeInput",
    "ReviseInput",
    "StatusInput",
    "call",
    "get_op",
]
