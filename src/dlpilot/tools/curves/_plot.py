"""Plots of runs: ``plot_data`` computes what to draw (pure, tested), ``render_png`` draws it.

Panels group series by quantity: train / val / test / train-dev of the same quantity share a panel
(loss, accuracy, ..., then the learning rate last). Colours are the Okabe-Ito colour-blind-safe
palette; with one run the colour and the line style both encode the split, with several runs the
colour encodes the run and the line style the split. Every line is downsampled to at most
``MAX_LINE_POINTS`` by min/max buckets, so spikes survive. Non-finite points are dropped from the
line and the first one is marked; so are the steps findings point at (``plot_marks``: the best
validation step of an over-fitting or saturated run, the divergence, every resume point).
Drawing uses ``matplotlib.figure.Figure`` with the Agg canvas directly, never pyplot, so no
global state is touched.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import minmax_indices, split_name

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency. Black is left out (reserved for markers).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
SPLIT_STYLE = {"train": "-", "val": "--", "test": ":", "train-dev": "-."}
SPLIT_COLOUR = {"train": 0, "val": 3, "test": 2, "train-dev": 1}
# Points per drawn line: a 7-inch panel at 120 dpi has ~840 pixel columns; 1,000 points (min and
# max of 500 buckets) draw every visible wiggle.
MAX_LINE_POINTS = 1000
# A loss panel gets a log y axis when its finite positive values span more than this many decades.
LOG_DECADES = 2.0
DPI = 120
PANEL_WIDTH_IN = 7.5
PANEL_HEIGHT_IN = 2.8
_QUANTITY_TITLE = {"loss": "Loss", "acc": "Accuracy", "accuracy": "Accuracy", "lr": "Learning rate"}


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    metric: str
    label: str
    colour: str
    style: str
    marker: str | None = Field(description="a marker for sparse lines (evaluation points)")
    x: list[float]
    y: list[float]
    total_points: int
    first_nonfinite_step: int | None = None


class Panel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: str
    title: str
    x_label: str = "step"
    y_label: str
    log_y: bool
    lines: list[Line]


class Mark(BaseModel):
    """A step a finding points at, drawn as a vertical line across every panel."""

    model_config = ConfigDict(extra="forbid")

    run: str
    kind: str = Field(description="best-validation, resumed, diverged or lr-blow-up")
    step: int
    label: str
    finding: str | None = Field(default=None, description="the finding id it comes from")


class PlotData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    panels: list[Panel]
    marks: list[Mark] = Field(default_factory=list)


def _quantity(name: str) -> str:
    split, q = split_name(name)
    return "lr" if split is None and q in ("lr", "learning_rate") else q


def _panel_order(q: str) -> tuple[int, str]:
    return ({"loss": 0, "acc": 1, "accuracy": 1, "lr": 9}.get(q, 5), q)


def _decades(ys: list[float]) -> float:
    pos = [y for y in ys if y > 0]
    if not pos or len(pos) < len(ys):
        return 0.0
    return math.log10(max(pos) / min(pos))


COUNTERS = frozenset({"epoch", "step", "global_step", "iteration", "samples", "tokens"})
# bookkeeping a trainer logs next to its metrics (Hugging Face: eval_runtime,
# eval_samples_per_second, train_steps_per_second, total_flos): how fast, not how well
_BOOKKEEPING = re.compile(r"(?:^|/)(?:runtime|\w*_per_second|total_flos|flos)$")


def _is_axis_or_bookkeeping(name: str) -> bool:
    return name in COUNTERS or _BOOKKEEPING.search(name) is not None


"""Series left out of the default plot: they count progress rather than measure the model."""


# Which findings point at a step, and how that step is named on the picture: the best
# validation point of an over-fitting or saturated run, where a run diverged or blew up.
_MARKED = {
    "curve.overfitting": ("best-validation", "best val"),
    "curve.saturated": ("best-validation", "best val (no gain after)"),
    "curve.diverged": ("diverged", "diverged"),
    "lr.too-high": ("lr-blow-up", "blow-up"),
}
_MARK_STYLE = {
    "best-validation": ("#000000", "--"),
    "resumed": ("#777777", ":"),
    "diverged": ("#D55E00", "-."),
    "lr-blow-up": ("#D55E00", ":"),
}


def plot_marks(runs: list[Run], findings: list[Finding] | None = None) -> list[Mark]:
    """The steps to mark: every run's resume points, and the steps the findings point at (the
    runs are diagnosed when ``findings`` is None)."""
    if findings is None:
        from dlpilot.tools.curves._diagnose import diagnose_run

        findings = [f for run in runs for f in diagnose_run(run).findings]
    names = {r.name for r in runs}
    marks: list[Mark] = []
    seen: set[tuple[str, str, int]] = set()

    def add(mark: Mark) -> None:
        key = (mark.run, mark.kind, mark.step)
        if mark.run in names and key not in seen:
            seen.add(key)
            marks.append(mark)

    multi = len(runs) > 1
    by_name = {r.name: r for r in runs}
    for run in runs:
        for step in run.resumed_at:
            add(Mark(run=run.name, kind="resumed", step=step, label=_label("resumed", run, multi)))
    for f in findings:
        if f.id not in _MARKED:
            continue
        kind, text = _MARKED[f.id]
        for e in f.evidence:
            run_name = e.detail.get("run")
            at = e.detail.get("best_step", e.step) if kind == "best-validation" else e.step
            if not isinstance(run_name, str) or not isinstance(at, int):
                continue
            owner = by_name.get(run_name)
            if owner is not None:
                add(
                    Mark(
                        run=run_name,
                        kind=kind,
                        step=at,
                        label=_label(text, owner, multi),
                        finding=f.id,
                    )
                )
    return marks


def _label(text: str, run: Run, multi: bool) -> str:
    return f"{run.name}: {text}" if multi else text


def plot_data(
    runs: list[Run],
    *,
    metrics: list[str] | None = None,
    log_y: bool | None = None,
    findings: list[Finding] | None = None,
) -> PlotData:
    """What ``plot_runs`` draws: panels, downsampled lines, labels and log-scale choices.

    ``metrics`` limits the series (exact names like ``"val/loss"`` or quantities like ``"loss"``);
    ``log_y`` forces (True) or forbids (False) a log y axis on loss-like panels; None decides by
    the span of the values (more than ``LOG_DECADES`` decades, all positive). The lr panel is
    always decided by span. ``findings`` (else the runs' own diagnosis) give the marks: the
    best validation step of an over-fitting or saturated run, where a run diverged or blew up,
    and every resume point (``plot_marks``).
    """
    if not runs:
        raise InvalidArgument("plot_runs needs at least one run, got an empty list")
    wanted = set(metrics) if metrics else None
    by_q: dict[str, list[tuple[int, Run, Series]]] = {}
    for ri, run in enumerate(runs):
        for name in sorted(run.series):
            q = _quantity(name)
            if wanted is None and _is_axis_or_bookkeeping(name):
                continue  # a counter is an axis, throughput is not training: no panel
            if wanted is not None and name not in wanted and q not in wanted:
                continue
            by_q.setdefault(q, []).append((ri, run, run.series[name]))
    if not by_q:
        have = sorted({n for r in runs for n in r.series})
        raise InvalidArgument(f"no series to plot for metrics={metrics!r}; the runs have {have}")
    multi = len(runs) > 1
    panels: list[Panel] = []
    for q in sorted(by_q, key=_panel_order):
        lines: list[Line] = []
        for ri, run, s in by_q[q]:
            split = split_name(s.name)[0] or "train"
            idx = minmax_indices(s.values, MAX_LINE_POINTS)
            bad = ~np.isfinite(s.values)
            colour = (
                OKABE_ITO[ri % len(OKABE_ITO)]
                if multi
                else OKABE_ITO[SPLIT_COLOUR.get(split, 4) % len(OKABE_ITO)]
            )
            label = f"{run.name} {s.name}" if multi else s.name
            lines.append(
                Line(
                    run=run.name,
                    metric=s.name,
                    label=label,
                    colour=colour,
                    style=SPLIT_STYLE.get(split, "-"),
                    marker="o" if len(s) <= 60 else None,
                    x=[float(v) for v in s.steps[idx]],
                    y=[float(v) for v in s.values[idx]],
                    total_points=len(s),
                    first_nonfinite_step=int(s.steps[int(np.argmax(bad))]) if bad.any() else None,
                )
            )
        ys = [y for ln in lines for y in ln.y]
        auto = _decades(ys) > LOG_DECADES
        if q == "lr" or q in ("acc", "accuracy"):
            use_log = q == "lr" and auto
        else:
            # a forced log axis still needs positive values (else the points would vanish)
            use_log = auto if log_y is None else bool(log_y and ys and min(ys) > 0)
        panels.append(
            Panel(
                quantity=q, title=_QUANTITY_TITLE.get(q, q), y_label=q, log_y=use_log, lines=lines
            )
        )
    title = (
        runs[0].name
        if not multi
        else f"{len(runs)} runs: "
        + ", ".join(r.name for r in runs[:4])
        + (" ..." if len(runs) > 4 else "")
    )
    return PlotData(title=title, panels=panels, marks=plot_marks(runs, findings))


def render_png(data: PlotData) -> bytes:
    """Draw ``data`` with the Agg canvas (no pyplot) and return PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(data.panels)
    fig = Figure(figsize=(PANEL_WIDTH_IN, PANEL_HEIGHT_IN * n + 0.6), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, p in zip(axes, data.panels, strict=True):
        for ln in p.lines:
            ax.plot(
                ln.x,
                ln.y,
                linestyle=ln.style,
                color=ln.colour,
                marker=ln.marker,
                markersize=3,
                linewidth=1.4 if ln.marker else 1.0,
                label=ln.label,
            )
            if ln.first_nonfinite_step is not None:
                ax.axvline(ln.first_nonfinite_step, color=ln.colour, linestyle=":", linewidth=1)
                ax.annotate(
                    "non-finite",
                    xy=(ln.first_nonfinite_step, 1.0),
                    xycoords=("data", "axes fraction"),
                    ha="left",
                    va="top",
                    fontsize=8,
                    color=ln.colour,
                )
        for i, mark in enumerate(data.marks):
            colour, style = _MARK_STYLE.get(mark.kind, ("#000000", ":"))
            ax.axvline(mark.step, color=colour, linestyle=style, linewidth=1)
            if ax is axes[0]:
                ax.annotate(
                    f"{mark.label} ({mark.step})",
                    xy=(mark.step, 1.0 - 0.09 * (i % 4)),
                    xycoords=("data", "axes fraction"),
                    ha="left",
                    va="top",
                    fontsize=7,
                    color=colour,
                )
        if p.log_y:
            ax.set_yscale("log")
        ax.set_title(p.title, fontsize=10, loc="left")
        ax.set_ylabel(p.y_label + (" (log)" if p.log_y else ""))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="best", frameon=False)
    axes[-1].set_xlabel("step")
    fig.suptitle(data.title, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def plot_runs(
    runs: list[Run], *, metrics: list[str] | None = None, log_y: bool | None = None
) -> bytes:
    """A PNG of the runs' curves (see ``plot_data`` for what is drawn)."""
    return render_png(plot_data(runs, metrics=metrics, log_y=log_y))


__all__ = [
    "MAX_LINE_POINTS",
    "OKABE_ITO",
    "Line",
    "Mark",
    "Panel",
    "PlotData",
    "plot_data",
    "plot_marks",
    "plot_runs",
    "render_png",
]
