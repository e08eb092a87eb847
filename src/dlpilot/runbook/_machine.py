"""The runbook of one project: status, propose, answer, revise, history (the state machine).

Every change is one locked read-modify-write of the state file (see ``_store``), so the object
holds no state of its own between calls: two processes, or an MCP server and a CLI, can drive one
runbook in turn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, JsonValue

from dlpilot.errors import InvalidArgument
from dlpilot.runbook._results import (
    AnswerResult,
    History,
    Proposal,
    RevisionResult,
    RoundHistory,
    Status,
    StepView,
)
from dlpilot.runbook._state import Event, EvidenceRecord, RoundState, RunbookState, StepRecord, now
from dlpilot.runbook._steps import (
    CARRIED_STEPS,
    STEPS,
    BaselineAnswer,
    BottleneckAnswer,
    DecisionAnswer,
    GoalAnswer,
    RunbookError,
    Step,
    StudyAnswer,
    TrialsAnswer,
    step_of,
    validate_answer,
)
from dlpilot.runbook._steps import dependents as step_dependents
from dlpilot.runbook._store import Store, write_atomic
from dlpilot.tools.trials import RoundFile, RoundFileError, parse_round

ROUND_FILE_NAME = "round.toml"

_T = TypeVar("_T", bound=BaseModel)


class Runbook:
    """The runbook of the project at ``project`` (state under ``project/.dlpilot/runbook``)."""

    def __init__(self, project: str | os.PathLike[str], *, state_dir: Path | None = None) -> None:
        root = Path(project).expanduser()
        if not root.is_dir():
            raise InvalidArgument(f"project {str(root)!r} is not a directory")
        self.project = root.resolve()
        self.store = Store(self.project, state_dir)

    # --- reading -----------------------------------------------------------------------------

    def state(self) -> RunbookState:
        """The state as on disk now (a fresh one when nothing was written yet)."""
        return self.store.load()

    def status(self) -> Status:
        state = self.state()
        rnd = state.current
        current = current_step(rnd)
        views = [
            StepView(
                step=s.number,
                name=s.name,
                title=s.title,
                state=_step_state(rnd, s),
                summary=_summary(rnd.answers[s.number]) if s.number in rnd.answers else "",
            )
            for s in STEPS.values()
        ]
        status = Status(
            project=str(self.project),
            state_file=str(self.store.path),
            round=rnd.number,
            rounds_closed=sum(1 for r in state.rounds if r.closed),
            step=current.number if current else None,
            steps=views,
            baseline=rnd.baseline,
            blocked=blocked(rnd),
        )
        if current is not None:
            status.name = current.name
            status.question = current.question
            status.seed = current.seed
            status.answer_schema = current.model.model_json_schema()
            status.evidence = [e for e in state.evidence if e.kind in current.evidence]
            have = {e.kind for e in status.evidence}
            status.missing = [
                f"evidence of kind {kind!r} (none recorded yet)"
                for kind in current.evidence
                if kind not in have
            ]
        return status

    def history(self) -> History:
        state = self.state()
        return History(
            rounds=[
                RoundHistory(
                    number=r.number,
                    started=r.started,
                    closed=r.closed,
                    answers={n: rec.answer for n, rec in sorted(r.answers.items())},
                    round_file=r.round_file,
                    baseline=r.baseline,
                    decision=r.decision,
                )
                for r in state.rounds
            ],
            events=state.history,
            evidence=state.evidence,
        )

    # --- changing ----------------------------------------------------------------------------

    def add_evidence(
        self, kind: str, source: str, data: dict[str, Any], summary: str = ""
    ) -> EvidenceRecord:
        """Record a result another tool produced, with where it came from."""
        with self.store.transaction() as state:
            return record_evidence(state, kind, source, data, summary)

    def propose(self, step: int | str | None = None) -> Proposal:
        """The rules' answer for ``step`` (default: the current step), with why. The static
        evidence the rules read (the project scan, the inspection) is recorded on the way."""
        from dlpilot.runbook._rules import propose as rules_propose

        with self.store.transaction() as state:
            target = self._target(state, step)
            proposal: Proposal = rules_propose(self.project, state, target)
            return proposal

    def answer(
        self,
        step: int | str,
        answer: dict[str, Any] | BaseModel,
        *,
        by: str = "",
        why: str = "",
        evidence: list[str] | None = None,
    ) -> AnswerResult:
        """Complete ``step`` of the current round with ``answer`` (validated against the step's
        model, its prerequisites and the answers it builds on)."""
        target = step_of(step)
        with self.store.transaction() as state:
            rnd = state.current
            missing = [n for n in target.requires if n not in rnd.answers]
            if missing:
                names = ", ".join(f"step {n} ({STEPS[n].name})" for n in missing)
                raise RunbookError(
                    f"step {target.number} ({target.name}) needs {names} answered first"
                )
            if target.number in rnd.answers:
                raise RunbookError(
                    f"step {target.number} ({target.name}) is already answered in round "
                    f"{rnd.number}; revise it first (dlpilot runbook revise {target.number})"
                )
            model = validate_answer(target, answer)
            files = self._check_and_apply(state, rnd, target, model)
            rnd.answers[target.number] = StepRecord(
                step=target.number,
                answer=model.model_dump(mode="json"),
                by=by,
                why=why,
                evidence=list(evidence or []),
            )
            state.history.append(
                Event(round=rnd.number, kind="answer", step=target.number, text=by or "")
            )
            result = AnswerResult(
                step=target.number,
                name=target.name,
                next_step=None,
                round=rnd.number,
                files=files,
            )
            if target.number == 9 and isinstance(model, DecisionAnswer):
                result.new_round = _close_round(state, model)
            nxt = current_step(state.current)
            result.next_step = nxt.number if nxt else None
            result.message = _next_message(result)
            return result

    def revise(self, step: int | str) -> RevisionResult:
        """Reopen ``step`` of the current round and every step that depends on it."""
        target = step_of(step)
        with self.store.transaction() as state:
            rnd = state.current
            reopened = [n for n in [target.number, *step_dependents(target.number)]]
            cleared = [n for n in reopened if n in rnd.answers]
            for n in cleared:
                del rnd.answers[n]
            if 7 in cleared:
                rnd.round_file = None
            text = f"step {target.number} ({target.name}) reopened" + (
                "; so are the steps that depend on it: "
                + ", ".join(f"{n} ({STEPS[n].name})" for n in cleared if n != target.number)
                if any(n != target.number for n in cleared)
                else "; no answered step depended on it"
            )
            state.history.append(
                Event(round=rnd.number, kind="revise", step=target.number, text=text)
            )
            return RevisionResult(
                step=target.number, name=target.name, reopened=cleared or [target.number],
                message=text,
            )  # fmt: skip

    # --- helpers -----------------------------------------------------------------------------

    def _target(self, state: RunbookState, step: int | str | None) -> Step:
        if step is not None:
            return step_of(step)
        current = current_step(state.current)
        if current is None:
            raise RunbookError(f"round {state.current.number} has no open step")
        return current

    def round_dir(self, number: int) -> Path:
        return self.store.round_dir(number)

    def _check_and_apply(
        self, state: RunbookState, rnd: RoundState, step: Step, model: BaseModel
    ) -> list[str]:
        """Cross-step checks (an answer must agree with those it builds on), then the effects of
        an answer on the round (baseline, round file). Returns files written."""
        n = step.number
        if n == 3 and isinstance(model, BaselineAnswer):
            rnd.baseline = model.model_dump(mode="json")
        bottleneck = _answer_of(rnd, 4, BottleneckAnswer)
        if (
            n == 5
            and isinstance(model, GoalAnswer)
            and bottleneck is not None
            and bottleneck.bottleneck == "bugs"
            and model.kind != "fix-bugs"
        ):
            raise RunbookError(
                f"step 5 (goal): field 'kind' = {model.kind!r}, but the bottleneck is bugs "
                f"({', '.join(bottleneck.findings)}): the goal is 'fix-bugs' before any tuning"
            )
        if n in (6, 7) and bottleneck is not None and bottleneck.bottleneck == "bugs":
            raise RunbookError(
                f"step {n} ({step.name}): the bottleneck is bugs "
                f"({', '.join(bottleneck.findings)}); fix them, gather the evidence again and "
                "revise step 4 before designing trials (seed 001 section 5.2: a gate before tuning)"
            )
        if n == 6 and isinstance(model, StudyAnswer):
            metric = rnd.answers[2].answer.get("metric") if 2 in rnd.answers else None
            if metric and model.objective.metric != metric:
                raise RunbookError(
                    f"step 6 (study): field 'objective.metric' = {model.objective.metric!r} is "
                    f"not step 2's metric {metric!r}"
                )
        if n == 7 and isinstance(model, TrialsAnswer):
            return [self._write_round_file(rnd, model)]
        if n == 8:
            name = rnd.answers[7].answer.get("round", {})
            study = name.get("name") if isinstance(name, dict) else None
            got = getattr(model, "study", None)
            if study and got != study:
                raise RunbookError(
                    f"step 8 (analysis): field 'study' = {got!r} is not this round's study "
                    f"{study!r} (step 7)"
                )
        return []

    def _write_round_file(self, rnd: RoundState, model: TrialsAnswer) -> str:
        directory = self.round_dir(rnd.number)
        data = dict(model.round)
        # step 7's workdir is relative to the project; in the file, to the file's directory
        workdir = (self.project / str(data.get("workdir", "."))).resolve()
        data["workdir"] = os.path.relpath(workdir, directory)
        path = directory / ROUND_FILE_NAME
        try:
            round_file = parse_round(data, source=path)
        except RoundFileError as exc:
            raise RunbookError(f"step 7 (trials): field 'round': {exc}") from exc
        _agree_with_study(rnd, round_file)
        self.store.check_confined(path)
        write_atomic(path, round_file.to_toml())
        rnd.round_file = os.path.relpath(path, self.project)
        return str(path)


def record_evidence(
    state: RunbookState, kind: str, source: str, data: dict[str, Any], summary: str = ""
) -> EvidenceRecord:
    """Append evidence to ``state`` (validated) and note it in the history."""
    try:
        record = EvidenceRecord(
            id=state.next_evidence_id(), kind=kind, source=source, summary=summary, data=data
        )
    except ValueError as exc:
        raise RunbookError(f"evidence: {exc}") from exc
    state.evidence.append(record)
    state.history.append(
        Event(round=state.current.number, kind="evidence", text=f"{record.id} {kind} {source}")
    )
    return record


def current_step(rnd: RoundState) -> Step | None:
    """The first step of the round not answered yet (its prerequisites are, by construction)."""
    for step in STEPS.values():
        if step.number not in rnd.answers and all(r in rnd.answers for r in step.requires):
            return step
    return None


def blocked(rnd: RoundState) -> str | None:
    bottleneck = _answer_of(rnd, 4, BottleneckAnswer)
    if bottleneck is not None and bottleneck.bottleneck == "bugs":
        return (
            f"the bottleneck is bugs ({', '.join(bottleneck.findings)}): fix them, then revise "
            "step 4; no trials are designed on broken training code"
        )
    return None


def _answer_of(rnd: RoundState, n: int, model: type[_T]) -> _T | None:
    record = rnd.answers.get(n)
    return model.model_validate(record.answer) if record is not None else None


def _agree_with_study(rnd: RoundState, round_file: RoundFile) -> None:
    study = _answer_of(rnd, 6, StudyAnswer)
    if study is None:
        return
    want = {n: p.role for n, p in study.params.items()}
    got = {n: p.role for n, p in round_file.params.items()}
    if want != got:
        raise RunbookError(
            "step 7 (trials): field 'round.params' does not match step 6's parameters and roles: "
            f"step 6 has {want}, the round file {got}"
        )
    if round_file.objective.metric != study.objective.metric:
        raise RunbookError(
            f"step 7 (trials): field 'round.objective.metric' = {round_file.objective.metric!r} "
            f"is not step 6's {study.objective.metric!r}"
        )
    if round_file.trials > study.trials:
        raise RunbookError(
            f"step 7 (trials): field 'round.trials' = {round_file.trials} exceeds step 6's "
            f"budget of {study.trials}"
        )


def _close_round(state: RunbookState, decision: DecisionAnswer) -> int:
    """Close the current round with ``decision`` and open the next one at step 4."""
    old = state.current
    old.closed = now()
    old.decision = decision.model_dump(mode="json")
    new = RoundState(number=old.number + 1)
    for n in CARRIED_STEPS:
        if n in old.answers:
            new.answers[n] = old.answers[n].model_copy(
                update={"carried_from": old.answers[n].carried_from or old.number}
            )
    baseline: dict[str, JsonValue] = dict(old.baseline)
    if decision.promote and decision.new_baseline:
        old_config = baseline.get("config")
        config: dict[str, JsonValue] = dict(old_config) if isinstance(old_config, dict) else {}
        config.update(decision.new_baseline)
        baseline["config"] = config
        baseline["source"] = f"promoted in round {old.number}"
        analysis = old.answers.get(8)
        if analysis is not None:
            baseline["value"] = analysis.answer.get("best_value")
        if 3 in new.answers:
            new.answers[3] = new.answers[3].model_copy(
                update={"answer": BaselineAnswer.model_validate(baseline).model_dump(mode="json")}
            )
    new.baseline = baseline
    state.rounds.append(new)
    verdict = "promoted" if decision.promote else "kept the baseline"
    state.history.append(Event(round=old.number, kind="close", step=9, text=verdict))
    state.history.append(
        Event(round=new.number, kind="round", text=f"next goal: {decision.next_goal}")
    )
    return new.number


def _step_state(rnd: RoundState, step: Step) -> str:
    if step.number in rnd.answers:
        return "answered"
    return "open" if all(r in rnd.answers for r in step.requires) else "waiting"


def _summary(record: StepRecord) -> str:
    a = record.answer
    keys = ("task_type", "metric", "architecture", "bottleneck", "question", "sampler",
            "diagnosis", "reason")  # fmt: skip
    for key in keys:
        if key in a:
            return f"{key}: {a[key]}"
    if "round" in a and isinstance(a["round"], dict):
        return f"round file: {a['round'].get('name')}"
    return ""


def _next_message(result: AnswerResult) -> str:
    if result.new_round is not None:
        return (
            f"round {result.round} closed; round {result.new_round} starts at step "
            f"{result.next_step} (steps 1-3 carried over)"
        )
    if result.next_step is None:
        return "no step is open"
    step = STEPS[result.next_step]
    return f"next: step {step.number} ({step.name}): {step.question}"


__all__ = ["ROUND_FILE_NAME", "Runbook", "blocked", "current_step", "record_evidence"]
