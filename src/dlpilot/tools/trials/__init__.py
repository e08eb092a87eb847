"""Trials: rounds of the project's own training command with hyperparameters filled in.

``load_round(path)`` reads a round file (:class:`RoundFile`); a round's results are
:class:`TrialRecord` and :class:`StudySummary`. The models are light and imported eagerly (the
server needs their schemas at start).
"""

from __future__ import annotations

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

__all__ = [
    "BUILTIN_PLACEHOLDERS",
    "BestTrial",
    "CategoricalParam",
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
    "StudySummary",
    "TargetValueResult",
    "TrialRecord",
    "TrialState",
    "fill",
    "load_round",
    "parse_round",
    "placeholders",
    "round_from_table",
]
