"""Trials: rounds of the project's own training command with hyperparameters filled in.

``load_round(path)`` reads a round file (:class:`RoundFile`); a round's results are
:class:`TrialRecord` and :class:`StudySummary`. The models are light and imported eagerly (the
server needs their schemas at start); the functions that run and read rounds load Optuna on first
use::

    run_round(round, *, storage=None, slots=None, stop=None, on_progress=None) -> StudySummary
    study_summary(name, project=".") -> StudySummary
    build_summary(round, study, storage_url="") -> StudySummary
    start_detached(round_path, *, storage=None) -> DetachedRound
    study_status(name, project=".") -> StudyStatus;  all_status(project=".") -> list[StudyStatus]
    stop_study(name, project=".") -> StopResult
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.tools._lazy import lazy_exports
from dlpilot.tools.trials._control import DetachedRound, StopResult, StudyStatus
from dlpilot.tools.trials._results import (
    BestTrial,
    ExitCause,
    RoundAnswer,
    StudySummary,
    TargetValueResult,
    TrialRecord,
    TrialState,
)
from dlpilot.tools.trials._round import (
    BUILTIN_PLACEHOLDERS,
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Objective,
    Param,
    Pruner,
    RoundFile,
    RoundFileError,
    Seeds,
    fill,
    load_round,
    parse_round,
    placeholders,
    round_from_table,
)

if TYPE_CHECKING:
    from dlpilot.tools.trials._control import all_status, start_detached, stop_study, study_status
    from dlpilot.tools.trials._runner import run_round
    from dlpilot.tools.trials._summary import build_summary, study_summary

__getattr__ = lazy_exports(
    __name__,
    {
        "run_round": "_runner",
        "study_summary": "_summary",
        "build_summary": "_summary",
        "start_detached": "_control",
        "study_status": "_control",
        "all_status": "_control",
        "stop_study": "_control",
    },
)

__all__ = [
    "BUILTIN_PLACEHOLDERS",
    "BestTrial",
    "CategoricalParam",
    "DetachedRound",
    "ExitCause",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "Objective",
    "Param",
    "Pruner",
    "RoundAnswer",
    "RoundFile",
    "RoundFileError",
    "Seeds",
    "StopResult",
    "StudyStatus",
    "StudySummary",
    "TargetValueResult",
    "TrialRecord",
    "TrialState",
    "all_status",
    "build_summary",
    "fill",
    "load_round",
    "parse_round",
    "placeholders",
    "round_from_table",
    "run_round",
    "start_detached",
    "stop_study",
    "study_status",
    "study_summary",
]
