"""Trials: rounds of the project's own training command with hyperparameters filled in.

``load_round(path)`` reads a round file (:class:`RoundFile`); a round's results are
:class:`TrialRecord` and :class:`StudySummary`. The models are light and imported eagerly (the
server needs their schemas at start). ``analyze_round`` (the playbook's findings and the round's
answer), ``assign_targets`` (trials spread over the target values) and the plots load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.tools._lazy import lazy_exports
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
    from dlpilot.tools.trials._analysis import analyze_round
    from dlpilot.tools.trials._answer import assign_targets, round_answer, seed_spread, target_grid
    from dlpilot.tools.trials._plots import (
        RoundPlotData,
        importances,
        plot_round_data,
        render_round_plots,
        render_round_pngs,
    )

# The analysis and plots need numpy, optuna and matplotlib: loaded on first use.
__getattr__ = lazy_exports(
    __name__,
    {
        "analyze_round": "_analysis",
        "assign_targets": "_answer",
        "round_answer": "_answer",
        "seed_spread": "_answer",
        "target_grid": "_answer",
        "RoundPlotData": "_plots",
        "importances": "_plots",
        "plot_round_data": "_plots",
        "render_round_plots": "_plots",
        "render_round_pngs": "_plots",
    },
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
    "RoundPlotData",
    "Seeds",
    "StudySummary",
    "TargetValueResult",
    "TrialRecord",
    "TrialState",
    "analyze_round",
    "assign_targets",
    "fill",
    "importances",
    "load_round",
    "parse_round",
    "placeholders",
    "plot_round_data",
    "render_round_plots",
    "render_round_pngs",
    "round_answer",
    "round_from_table",
    "seed_spread",
    "target_grid",
]
