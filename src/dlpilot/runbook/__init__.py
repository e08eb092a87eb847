"""The nine-step runbook of seed 001 section 7 as a persisted state machine.

An agent (Claude in an IDE over MCP, ``dlpilot round`` with the rules, the Claude driver in CI)
walks one round at a time: 1 task, 2 metric and splits, 3 baseline, 4 bottleneck, 5 one main goal,
6 study design, 7 the round file, 8 results analysis, 9 the baseline decision and the next goal;
the next round starts at step 4 with steps 1-3 carried over. It consumes what the tools produced
(findings, curve diagnoses, trials summaries) and never starts processes itself.

The API::

    rb = Runbook(project_dir)              # state under project_dir/.dlpilot/runbook/
    rb.status() -> Status                  # round, current step, its question, answer_schema,
                                           # evidence so far, what is missing, blocked
    rb.propose(step=None) -> Proposal      # the rules' answer, with why (evidence + seed section)
    rb.answer(step, answer, by=, why=) -> AnswerResult   # validated; RunbookError names the
                                           # step and the field; step 7 writes round.toml,
                                           # step 9 closes the round and opens the next one
    rb.revise(step) -> RevisionResult      # reopens the step and its dependents, listed
    rb.history() -> History                # every round: answers, baselines, decisions, events
    rb.add_evidence(kind, source, data, summary) -> EvidenceRecord

The transition table is :data:`STEPS` (``Step``: number, name, question, seed section, answer
model, ``requires``, evidence kinds read); :func:`dependents` gives what a revision reopens.

:data:`OPS` is the registry of the operations (``Op``: name, description, input model, output
model, ``run(runbook, args)``, read_only); ``call(runbook, name, arguments)`` validates and runs
one. The MCP server registers these as tools and the Claude driver gives them to the model.

Errors: :class:`RunbookError` (an ``InvalidArgument``) for refused answers and transitions;
:class:`StateFileError` (a ``ProjectError``) for a corrupt, foreign or newer state file, which is
never overwritten.
"""

from __future__ import annotations

from dlpilot.runbook._machine import Runbook
from dlpilot.runbook._ops import OPS, OPS_BY_NAME, Op, call, get_op
from dlpilot.runbook._results import (
    AnswerResult,
    GatherResult,
    History,
    Proposal,
    RevisionResult,
    Status,
)
from dlpilot.runbook._state import EvidenceRecord, RunbookState
from dlpilot.runbook._steps import (
    STEPS,
    AnalysisAnswer,
    BaselineAnswer,
    BottleneckAnswer,
    DecisionAnswer,
    GoalAnswer,
    MetricAnswer,
    RunbookError,
    StateFileError,
    Step,
    StudyAnswer,
    TaskAnswer,
    TrialsAnswer,
    dependents,
    step_of,
)

__all__ = [
    "OPS",
    "OPS_BY_NAME",
    "STEPS",
    "AnalysisAnswer",
    "AnswerResult",
    "BaselineAnswer",
    "BottleneckAnswer",
    "DecisionAnswer",
    "EvidenceRecord",
    "GatherResult",
    "GoalAnswer",
    "History",
    "MetricAnswer",
    "Op",
    "Proposal",
    "RevisionResult",
    "Runbook",
    "RunbookError",
    "RunbookState",
    "StateFileError",
    "Status",
    "Step",
    "StudyAnswer",
    "TaskAnswer",
    "TrialsAnswer",
    "call",
    "dependents",
    "get_op",
    "step_of",
]
