"""Training curves: read runs, diagnose them, compare them, plot them.

``read_runs(path)`` turns metric logs (JSONL, CSV, TensorBoard, Lightning, HF Trainer, MLflow)
into ``Run`` objects; ``diagnose_runs`` applies the curve rules (findings with how = "curve") and
the bias / variance / mismatch breakdown; ``summarize_runs`` / ``compare_runs`` give small typed
views for tools; ``plot_data`` computes what ``plot_runs`` draws into a PNG.
"""

from dlpilot.tools.curves._breakdown import ErrorBreakdown, Verdict
from dlpilot.tools.curves._diagnose import CurveDiagnosis, RunDiagnosis, diagnose_runs
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._plot import Line, Panel, PlotData, plot_data, plot_runs, render_png
from dlpilot.tools.curves._summary import (
    MetricSummary,
    RunComparison,
    RunSummary,
    RunsView,
    compare_runs,
    summarize_run,
    summarize_runs,
)
from dlpilot.tools.curves.readers import read_run, read_runs

__all__ = [
    "CurveDiagnosis",
    "ErrorBreakdown",
    "Line",
    "MetricSummary",
    "Panel",
    "PlotData",
    "Run",
    "RunComparison",
    "RunDiagnosis",
    "RunSummary",
    "RunsView",
    "Series",
    "Verdict",
    "compare_runs",
    "diagnose_runs",
    "plot_data",
    "plot_runs",
    "read_run",
    "read_runs",
    "render_png",
    "summarize_run",
    "summarize_runs",
]
