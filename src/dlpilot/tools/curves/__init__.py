"""Training curves: read runs, diagnose them, compare them, plot them.

``read_runs(path)`` turns metric logs (JSONL, CSV, TensorBoard, Lightning, HF Trainer, MLflow)
into ``Run`` objects; ``diagnose_runs`` applies the curve rules (findings with how = "curve") and
the bias / variance / mismatch breakdown; ``summarize_runs`` / ``compare_runs`` give small typed
views for tools; ``plot_data`` computes what ``plot_runs`` draws into a PNG.

The result models are imported eagerly (they are light: the server needs their schemas at start);
the functions, which need numpy, are loaded on first use (see ``dlpilot.tools._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.tools._lazy import lazy_exports
from dlpilot.tools.curves._results import (
    CurveDiagnosis,
    ErrorBreakdown,
    MetricSummary,
    RunComparison,
    RunDiagnosis,
    RunSummary,
    RunsView,
    Verdict,
)

if TYPE_CHECKING:
    from dlpilot.tools.curves._diagnose import diagnose_runs
    from dlpilot.tools.curves._model import Run, Series
    from dlpilot.tools.curves._plot import Line, Panel, PlotData, plot_data, plot_runs, render_png
    from dlpilot.tools.curves._summary import compare_runs, summarize_run, summarize_runs
    from dlpilot.tools.curves._text import render_diagnosis
    from dlpilot.tools.curves.readers import read_run, read_runs

__getattr__ = lazy_exports(
    __name__,
    {
        "diagnose_runs": "_diagnose",
        "Run": "_model",
        "Series": "_model",
        "Line": "_plot",
        "Panel": "_plot",
        "PlotData": "_plot",
        "plot_data": "_plot",
        "plot_runs": "_plot",
        "render_png": "_plot",
        "compare_runs": "_summary",
        "summarize_run": "_summary",
        "summarize_runs": "_summary",
        "render_diagnosis": "_text",
        "read_run": "readers",
        "read_runs": "readers",
    },
)


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
    "render_diagnosis",
    "render_png",
    "summarize_run",
    "summarize_runs",
]
