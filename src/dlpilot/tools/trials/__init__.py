"""Trials: rounds of the project's own training command with hyperparameters filled in.

``load_round(path)`` reads a round file (:class:`RoundFile`); a round's results are
:class:`TrialRecord` and :class:`StudySummary`. The models are light and imported eagerly (the
server needs their schemas at start); the functions that run, read and analyse rounds load
Optuna, numpy and matplotlib on first use::

    run_round(round, *, storage=None, slots=None, stop=None, on_progress=None) -> StudySummary
    study_summary(name, project=".") -> StudySummary
    build_summary(round, study, storage_url="") -> StudySummary
    start_detached(round_path, *, storage=None) -> DetachedRound
    study_status(name, project=".") -> StudyStatus;  all_status(project=".") -> list[StudyStatus]
    stop_study(name, project=".") -> StopResult
    analyze_round(round, trials, curves=None) -> (findings, RoundAnswer)
    assign_targets(round, n_trials, done=()) -> list[dict]   # trials spread over target values
    render_round_plots(round, trials, out_dir, curves=None) -> list[Path]
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
    from dlpilot.tools.trials._analysis import analyze_round
    from dlpilot.tools.trials._answer import assign_targets, round_answer, seed_spread, target_grid
    from dlpilot.tools.trials._control import all_status, start_detached, stop_study, study_status
    from dlpilot.tools.trials._plots import (
        RoundPlotData,
        importances,
        plot_round_data,
        render_round_plots,
        render_round_pngs,
    )
    from dlpilot.tools.trials._runner import Progress, Runner, run_round
    from dlpilot.tools.trials._summary import (
        build_summary,
        study_round,
        study_summary,
        trial_curves,
    )
    from dlpilot.tools.trials._text import render_progress, render_status, render_summary

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
        "Progress": "_runner",
        "Runner": "_runner",
        "run_round": "_runner",
        "study_round": "_summary",
        "study_summary": "_summary",
        "trial_curves": "_summary",
        "render_progress": "_text",
        "render_status": "_text",
        "render_summary": "_text",
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
    "Progress",
    "Pruner",
    "RoundAnswer",
    "RoundFile",
    "RoundFileError",
    "RoundPlotData",
    "Runner",
    "Seeds",
    "StopResult",
    "StudyStatus",
    "StudySummary",
    "TargetValueResult",
    "TrialRecord",
    "TrialState",
    "all_status",
    "analyze_round",
    "assign_targets",
    "build_summary",
    "fill",
    "importances",
    "load_round",
    "parse_round",
    "placeholders",
    "plot_round_data",
    "render_progress",
    "render_round_plots",
    "render_round_pngs",
    "render_status",
    "render_summary",
    "round_answer",
    "round_from_table",
    "run_round",
    "seed_spread",
    "start_detached",
    "stop_study",
    "study_round",
    "study_status",
    "study_summary",
    "target_grid",
    "trial_curves",
]
