"""Plots of a round (seed 001 section 3.3): ``plot_round_data`` computes what to draw (pure,
tested), ``render_round_pngs`` / ``render_round_plots`` draw it with matplotlib's Agg canvas.

- **Axis plots**, one panel per varied parameter (the Tuning Playbook's "hyperparameter axis
  plots"): the objective of each finished trial against the parameter, a log x axis for log
  parameters, categories side by side; infeasible trials (non-finite, out of memory) are drawn as
  crosses on the worst edge of the panel, so a region that blows up shows as a row of crosses.
- **Progress**: each trial's value in trial order and the best so far.
- **Top curves**: the training curves of the best trials (``dlpilot.tools.curves.plot_data``).
- **Importances**: Optuna's parameter importances (PED-ANOVA, its default evaluator), computed
  from an in-memory study built from the trial records, so no storage is needed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dlpilot.errors import InvalidArgument
from dlpilot.tools.curves._plot import PlotData, plot_data, render_png
from dlpilot.tools.curves._signal import split_name
from dlpilot.tools.trials._answer import _key, _ranked, _scored
from dlpilot.tools.trials._results import TrialRecord
from dlpilot.tools.trials._round import (
    CategoricalParam,
    FloatParam,
    IntParam,
    RoundFile,
)

if TYPE_CHECKING:
    from dlpilot.tools.curves._model import Run

# The best trials whose curves are drawn.
TOP_CURVE_TRIALS = 5
# PED-ANOVA compares the best 10% of the trials with all of them: with fewer trials than this the
# best set is one or two trials and the importances are noise.
IMPORTANCE_MIN_TRIALS = 10
# A value axis goes log when its positive values span more than this many decades: runs that
# collapsed (a loss of 2.3 beside good ones at 0.1) would squash the good region on a linear axis.
LOG_DECADES = 1.0
# Where infeasible trials are drawn: this share of the value range beyond the worst value.
INFEASIBLE_MARGIN = 0.08
DPI = 110
PANEL_IN = (4.2, 3.0)
COLOURS = {"complete": "#0072B2", "best": "#D55E00", "infeasible": "#000000", "pruned": "#999999"}

PointKind = Literal["complete", "pruned", "infeasible"]


class AxisPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trial: int
    x: float = Field(description="the parameter value (a category's index for categories)")
    y: float = Field(description="the objective; infeasible trials sit at the panel's worst edge")
    kind: PointKind
    best: bool = False


class AxisPanel(BaseModel):
    """The objective against one varied parameter."""

    model_config = ConfigDict(extra="forbid")

    param: str
    role: str
    log_x: bool
    log_y: bool
    x_range: tuple[float, float] | None = Field(description="the search range (None: categories)")
    categories: list[str] | None = None
    infeasible_y: float | None = Field(description="where infeasible trials are drawn")
    points: list[AxisPoint]


class ProgressData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trials: list[int]
    values: list[float]
    best_so_far: list[float]
    log_y: bool


class RoundPlotData(BaseModel):
    """Everything ``render_round_pngs`` draws."""

    model_config = ConfigDict(extra="forbid")

    title: str
    metric: str
    direction: Literal["minimize", "maximize"]
    axes: list[AxisPanel]
    progress: ProgressData | None
    importances: dict[str, float] | None = Field(description="PED-ANOVA, largest first")
    curves: PlotData | None = Field(default=None, description="the top trials' curves")


def _decades(values: Sequence[float]) -> float:
    pos = [v for v in values if v > 0 and math.isfinite(v)]
    return math.log10(max(pos) / min(pos)) if len(pos) >= 2 else 0.0


def _infeasible(t: TrialRecord) -> bool:
    nonfinite_value = t.state == "complete" and t.value is not None and not math.isfinite(t.value)
    return nonfinite_value or (t.state == "failed" and t.exit_cause in ("oom", "nonfinite"))


def _axis_panel(
    round: RoundFile, name: str, trials: Sequence[TrialRecord], best: int | None, log_y: bool
) -> AxisPanel:
    p = round.varied[name]
    direction = round.objective.direction
    cats: list[str] | None = None
    if isinstance(p, CategoricalParam):
        cats = [str(c) for c in p.choices]

    def x_of(v: Any) -> float | None:
        if cats is not None:
            return float(cats.index(str(v))) if str(v) in cats else None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return None
        return float(v)

    points: list[AxisPoint] = []
    for t in trials:
        x = x_of(t.params.get(name))
        if x is None:
            continue
        if _scored(t) or (t.state == "pruned" and t.value is not None and math.isfinite(t.value)):
            kind: PointKind = "complete" if t.state == "complete" else "pruned"
            points.append(AxisPoint(trial=t.number, x=x, y=float(t.value or 0.0), kind=kind))
        elif _infeasible(t):
            points.append(AxisPoint(trial=t.number, x=x, y=math.nan, kind="infeasible"))
    finite = [pt.y for pt in points if pt.kind != "infeasible"]
    infeasible_y = None
    if any(pt.kind == "infeasible" for pt in points):
        worst = max(finite, key=lambda v: _key(v, direction)) if finite else 1.0
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if log_y and lo > 0:
            margin = (hi / lo) ** INFEASIBLE_MARGIN
            infeasible_y = worst * margin if direction == "minimize" else worst / margin
        else:
            span = (hi - lo) or abs(worst) or 1.0
            step = span * INFEASIBLE_MARGIN
            infeasible_y = worst + step if direction == "minimize" else worst - step
        points = [
            pt.model_copy(update={"y": infeasible_y}) if pt.kind == "infeasible" else pt
            for pt in points
        ]
    points = [pt.model_copy(update={"best": pt.trial == best}) for pt in points]
    x_range = None if cats is not None else (float(p.low), float(p.high))  # type: ignore[union-attr]
    log_x = bool(isinstance(p, FloatParam | IntParam) and p.log)
    return AxisPanel(
        param=name,
        role=p.role,
        log_x=log_x,
        log_y=log_y,
        x_range=x_range,
        categories=cats,
        infeasible_y=infeasible_y,
        points=points,
    )


def _progress(round: RoundFile, trials: Sequence[TrialRecord], log_y: bool) -> ProgressData:
    direction = round.objective.direction
    done = sorted(
        (t for t in trials if _scored(t) and t.kind != "seed-rerun"), key=lambda t: t.number
    )
    values = [float(t.value or 0.0) for t in done]
    best: list[float] = []
    for v in values:
        best.append(v if not best or _key(v, direction) < _key(best[-1], direction) else best[-1])
    return ProgressData(
        trials=[t.number for t in done], values=values, best_so_far=best, log_y=log_y
    )


def importances(round: RoundFile, trials: Sequence[TrialRecord]) -> dict[str, float] | None:
    """Optuna's parameter importances (PED-ANOVA) of the varied parameters, largest first, from
    an in-memory study of the scored trials; None with fewer than ``IMPORTANCE_MIN_TRIALS``
    scored trials inside the search space or fewer than two varied parameters."""
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    dists: dict[str, BaseDistribution] = {}
    for name, p in round.varied.items():
        if isinstance(p, FloatParam):
            dists[name] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            dists[name] = IntDistribution(p.low, p.high, log=p.log, step=p.step)
        else:
            dists[name] = CategoricalDistribution(p.choices)
    if len(dists) < 2:
        return None
    frozen = []
    for t in trials:
        if not _scored(t) or t.kind == "seed-rerun" or set(dists) - set(t.params):
            continue
        params = {n: t.params[n] for n in dists}
        try:
            frozen.append(
                optuna.trial.create_trial(params=params, distributions=dists, value=t.value)
            )
        except ValueError:
            continue  # a value outside the search space (a baseline from an earlier range)
    if len(frozen) < IMPORTANCE_MIN_TRIALS:
        return None
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction=round.objective.direction)
        study.add_trials(frozen)
        found = optuna.importance.get_param_importances(study)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return {k: float(v) for k, v in found.items()}


def _top_curves(
    round: RoundFile, trials: Sequence[TrialRecord], curves: Mapping[int, Run] | None
) -> PlotData | None:
    if not curves:
        return None
    top = [t for t in _ranked(trials, round.objective.direction) if t.number in curves]
    runs = [replace(curves[t.number], name=f"trial-{t.number}") for t in top[:TOP_CURVE_TRIALS]]
    if not runs:
        return None
    quantity = split_name(round.objective.metric)[1]
    try:
        return plot_data(runs, metrics=[quantity, round.objective.metric])
    except InvalidArgument:
        return plot_data(runs)


def plot_round_data(
    round: RoundFile,
    trials: Sequence[TrialRecord],
    curves: Mapping[int, Run] | None = None,
    *,
    with_importances: bool = True,
) -> RoundPlotData:
    """What the round's plots show (see the module docstring); ``curves`` keyed by trial number.

    Only finished trials are drawn; running and waiting ones are left out.
    """
    direction = round.objective.direction
    ranked = _ranked(trials, direction)
    best = ranked[0].number if ranked else None
    values = [float(t.value or 0.0) for t in trials if _scored(t)]
    log_y = _decades(values) > LOG_DECADES and all(v > 0 for v in values)
    axes = [_axis_panel(round, n, trials, best, log_y) for n in round.varied]
    return RoundPlotData(
        title=f"{round.name}: {round.objective.metric} ({direction})",
        metric=round.objective.metric,
        direction=direction,
        axes=axes,
        progress=_progress(round, trials, log_y) if values else None,
        importances=importances(round, trials) if with_importances else None,
        curves=_top_curves(round, trials, curves),
    )


# --- drawing ---------------------------------------------------------------------------------


def _figure(n_panels: int, cols: int) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = math.ceil(n_panels / cols)
    fig = Figure(
        figsize=(PANEL_IN[0] * cols, PANEL_IN[1] * rows + 0.5), dpi=DPI, layout="constrained"
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _draw_axes(data: RoundPlotData) -> bytes:
    cols = min(3, len(data.axes))
    fig, axes = _figure(len(data.axes), cols)
    for ax, panel in zip(axes, data.axes, strict=False):
        for kind in ("pruned", "complete", "infeasible"):
            pts = [pt for pt in panel.points if pt.kind == kind]
            if pts:
                ax.scatter(
                    [pt.x for pt in pts],
                    [pt.y for pt in pts],
                    s=22,
                    marker="x" if kind == "infeasible" else "o",
                    color=COLOURS[kind],
                    alpha=0.8,
                    label=kind,
                )
        best = [pt for pt in panel.points if pt.best]
        if best:
            ax.scatter(
                [best[0].x], [best[0].y], s=70, marker="*", color=COLOURS["best"], label="best"
            )
        if panel.log_x:
            ax.set_xscale("log")
        if panel.log_y:
            ax.set_yscale("log")
        if panel.categories is not None:
            ax.set_xticks(range(len(panel.categories)), panel.categories)
        elif panel.x_range is not None:
            for edge in panel.x_range:
                ax.axvline(edge, color="#999999", linewidth=0.8, linestyle=":")
        if panel.infeasible_y is not None:
            ax.axhline(panel.infeasible_y, color="#000000", linewidth=0.5, linestyle=":")
        ax.set_xlabel(f"{panel.param} ({panel.role})")
        ax.set_ylabel(data.metric)
        ax.grid(True, alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(data.title, fontsize=10)
    return _png(fig)


def _draw_progress(data: RoundPlotData) -> bytes:
    assert data.progress is not None
    fig, axes = _figure(1, 1)
    ax, pr = axes[0], data.progress
    ax.scatter(pr.trials, pr.values, s=14, color=COLOURS["complete"], label="trial")
    ax.step(pr.trials, pr.best_so_far, where="post", color=COLOURS["best"], label="best so far")
    if pr.log_y:
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel(data.metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"{data.title}: best value over trials", fontsize=10)
    return _png(fig)


def _draw_importances(data: RoundPlotData) -> bytes:
    assert data.importances is not None
    fig, axes = _figure(1, 1)
    names = list(data.importances)[::-1]
    axes[0].barh(names, [data.importances[n] for n in names], color=COLOURS["complete"])
    axes[0].set_xlabel("importance (PED-ANOVA)")
    fig.suptitle(f"{data.title}: parameter importances", fontsize=10)
    return _png(fig)


def render_round_pngs(data: RoundPlotData) -> dict[str, bytes]:
    """PNG bytes of each plot that has data: ``axes``, ``progress``, ``curves``,
    ``importances`` (for MCP image results)."""
    out: dict[str, bytes] = {}
    if any(panel.points for panel in data.axes):
        out["axes"] = _draw_axes(data)
    if data.progress is not None and data.progress.trials:
        out["progress"] = _draw_progress(data)
    if data.curves is not None:
        out["curves"] = render_png(data.curves)
    if data.importances:
        out["importances"] = _draw_importances(data)
    return out


def render_round_plots(
    round: RoundFile,
    trials: Sequence[TrialRecord],
    out_dir: str | Path,
    curves: Mapping[int, Run] | None = None,
) -> list[Path]:
    """Write the round's plots as ``<study>-<plot>.png`` files under ``out_dir``; their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in render_round_pngs(plot_round_data(round, trials, curves)).items():
        path = folder / f"{round.name}-{name}.png"
        path.write_bytes(png)
        paths.append(path)
    return paths


__all__ = [
    "AxisPanel",
    "AxisPoint",
    "ProgressData",
    "RoundPlotData",
    "importances",
    "plot_round_data",
    "render_round_plots",
    "render_round_pngs",
]
