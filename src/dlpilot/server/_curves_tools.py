"""MCP tools for training curves: read, diagnose, compare, plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from dlpilot.server._adapt import run_tool, tool_errors
from dlpilot.server._content import with_image
from dlpilot.server._inspect_tools import READ_ONLY
from dlpilot.server._state import ServerState
from dlpilot.tools.control import Control
from dlpilot.tools.curves import CurveDiagnosis, RunComparison, RunSummary, RunsView

if TYPE_CHECKING:
    from dlpilot.tools.curves import Run


class CurvesRead(BaseModel):
    """What a metrics source holds: per run, its metrics with counts and first/last/best values."""

    path: str
    runs: list[RunSummary]
    view: RunsView | None = Field(
        default=None, description="downsampled series, when points were asked for"
    )


class CurvesPlot(BaseModel):
    """What the attached PNG shows."""

    path: str
    runs: list[str]
    panels: list[str] = Field(description="panel titles, top to bottom")


def register(server: MCPServer, state: ServerState) -> None:
    def _read(path: str, control: Control) -> list[Run]:
        from dlpilot.tools.curves import read_runs

        control.progress(0, None, f"reading {path}")
        return read_runs(state.roots.resolve(path), guard=state.roots.guard)

    @server.tool(
        name="read_curves",
        description=(
            "Read training curves (JSONL, CSV/Lightning, TensorBoard, HF trainer_state, MLflow) "
            "from a file or run directory; returns per-metric summaries, and downsampled points "
            "on request."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def read_curves(
        ctx: Context,
        path: str,
        points: Annotated[int | None, Field(ge=2, le=5000)] = None,
    ) -> CurvesRead:
        def work(control: Control) -> CurvesRead:
            from dlpilot.tools.curves import summarize_run, summarize_runs

            runs = _read(path, control)
            view = summarize_runs(runs, points=points) if points else None
            return CurvesRead(path=path, runs=[summarize_run(r) for r in runs], view=view)

        return await run_tool(ctx, work)

    @server.tool(
        name="diagnose_curves",
        description=(
            "Diagnose training curves: divergence, overfitting, instability, saturation, and the "
            "bias / variance / data-mismatch verdict with next actions (target_error: human level)."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def diagnose_curves(
        ctx: Context,
        path: str,
        target_error: Annotated[float | None, Field(ge=0, le=1e6)] = None,
        metric: str | None = None,
        goal: Literal["min", "max"] | None = None,
    ) -> Annotated[CallToolResult, CurveDiagnosis]:
        def work(control: Control) -> tuple[CurveDiagnosis, str]:
            from dlpilot.tools.curves import diagnose_runs, render_diagnosis

            runs = _read(path, control)
            control.progress(0, None, f"diagnosing {len(runs)} run(s)")
            diagnosis = diagnose_runs(runs, target_error=target_error, metric=metric, goal=goal)
            return diagnosis, render_diagnosis(path, diagnosis)

        diagnosis, text = await run_tool(ctx, work)
        state.last["curves"] = diagnosis
        return with_image(diagnosis, None, text)

    @server.tool(
        name="compare_runs",
        description="Rank several runs (e.g. a study's trials) by the best value of one metric.",
        annotations=READ_ONLY,
    )
    @tool_errors
    async def compare_runs(
        ctx: Context, path: str, metric: str = "val/loss", goal: Literal["min", "max"] | None = None
    ) -> RunComparison:
        def work(control: Control) -> RunComparison:
            from dlpilot.tools.curves import compare_runs as rank

            runs = _read(path, control)
            control.progress(0, None, f"ranking {len(runs)} run(s)")
            return rank(runs, metric, goal)

        return await run_tool(ctx, work)

    @server.tool(
        name="plot_curves",
        description=(
            "Plot training curves as a PNG: loss, accuracy and learning-rate panels, train and "
            "validation together, log scale where it helps."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def plot_curves(
        ctx: Context,
        path: str,
        metrics: list[str] | None = None,
        log_y: bool | None = None,
    ) -> Annotated[CallToolResult, CurvesPlot]:
        def work(control: Control) -> tuple[CurvesPlot, bytes]:
            from dlpilot.tools.curves import plot_data, render_png

            runs = _read(path, control)
            data = plot_data(runs, metrics=metrics, log_y=log_y)
            control.progress(0, None, f"drawing {len(data.panels)} panel(s)")
            result = CurvesPlot(
                path=path, runs=[r.name for r in runs], panels=[p.title for p in data.panels]
            )
            return result, render_png(data)

        result, png = await run_tool(ctx, work)
        return with_image(
            result, png, f"{len(result.panels)} panels for {len(result.runs)} run(s) of {path}"
        )


__all__ = ["CurvesPlot", "CurvesRead", "register"]
