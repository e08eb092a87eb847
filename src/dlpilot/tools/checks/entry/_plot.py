"""The LR range test's plot: plot data computed first, then drawn with matplotlib's Agg canvas
(no pyplot: no global state, safe in the server's worker threads). matplotlib is imported only
when drawing, so the server process does not load it at start."""

from __future__ import annotations

import io

from pydantic import BaseModel, ConfigDict

from ._results import LrRangeResult

FIGSIZE_IN = (6.4, 4.0)
DPI = 100


class LrPlotData(BaseModel):
    """What the plot shows: the raw and smoothed loss against lr, and the marked learning rates."""

    model_config = ConfigDict(extra="forbid")

    lrs: list[float]
    losses: list[float]
    smoothed_lrs: list[float]
    smoothed: list[float]
    suggestion: tuple[float, float] | None
    min_loss_lr_div10: float | None
    title: str
    y_limits: tuple[float, float] | None


def lr_plot_data(result: LrRangeResult) -> LrPlotData:
    raw = [(lr, v) for lr, v in zip(result.lrs, result.losses, strict=False) if v is not None]
    smooth = [(lr, v) for lr, v in zip(result.lrs, result.smoothed, strict=False) if v is not None]
    marked = None
    if result.suggestion is not None and smooth:
        at = min(smooth, key=lambda p: abs(p[0] - result.suggestion))  # type: ignore[operator]
        marked = (result.suggestion, at[1])
    limits = None
    if smooth:
        lo = min(v for _, v in smooth)
        # Show the descent, not the blow-up that ended the ramp.
        hi = max(v for _, v in smooth[: max(1, len(smooth) // 10)] + smooth[:1])
        span = max(hi - lo, 1e-12)
        limits = (lo - 0.1 * span, hi + 0.3 * span)
    title = "LR range test"
    if result.suggestion is not None:
        title += f": suggestion {result.suggestion:.2g}"
    return LrPlotData(
        lrs=[p[0] for p in raw],
        losses=[p[1] for p in raw],
        smoothed_lrs=[p[0] for p in smooth],
        smoothed=[p[1] for p in smooth],
        suggestion=marked,
        min_loss_lr_div10=result.min_loss_lr_div10,
        title=title,
        y_limits=limits,
    )


def render_lr_plot(data: LrPlotData) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(data.lrs, data.losses, color="0.75", linewidth=1, label="loss")
    ax.plot(data.smoothed_lrs, data.smoothed, color="C0", linewidth=2, label="smoothed loss")
    if data.suggestion is not None:
        lr, loss = data.suggestion
        ax.axvline(lr, color="C3", linestyle="--", linewidth=1)
        ax.plot([lr], [loss], "o", color="C3", label=f"steepest descent {lr:.2g}")
    if data.min_loss_lr_div10 is not None:
        ax.axvline(
            data.min_loss_lr_div10,
            color="C2",
            linestyle=":",
            linewidth=1,
            label=f"min-loss lr / 10 = {data.min_loss_lr_div10:.2g}",
        )
    ax.set_xscale("log")
    if data.y_limits is not None:
        ax.set_ylim(*data.y_limits)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(data.title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_lr_range(result: LrRangeResult) -> bytes:
    """The LR range test as a PNG: loss against lr (log x), the suggestion marked."""
    return render_lr_plot(lr_plot_data(result))
