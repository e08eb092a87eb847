"""MCP tools for rounds of trials: start one (detached: the call returns at once), its status
with progress, its summary, its plots as PNG images, stop it."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from dlpilot.server._adapt import run_tool, tool_errors
from dlpilot.server._content import with_image
from dlpilot.server._inspect_tools import READ_ONLY
from dlpilot.server._state import ServerState
from dlpilot.tools.control import Control
from dlpilot.tools.trials import DetachedRound, StopResult, StudyStatus, StudySummary

STARTS_PROCESSES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False
)


class TrialsPlot(BaseModel):
    """What the attached PNG shows, and the plots a round has."""

    study: str
    plot: str
    available: list[str] = Field(description="the plots this round can draw")


class TrialsStatus(BaseModel):
    """The studies of a project and where each stands."""

    studies: list[StudyStatus]


def register(server: MCPServer, state: ServerState) -> None:
    def _project(project: str) -> str:
        return str(state.roots.resolve(project))

    @server.tool(
        name="start_trials",
        description=(
            "Start a round of trials from a round file (.toml/.yaml/.json, or a pyproject.toml "
            "with [tool.dlpilot.trials]): the project's own training command with "
            "hyperparameters filled in, on every GPU or CPU slot, pruned from live curves. "
            "Returns at once with the study name; the runner runs in the background. Follow it "
            "with trials_status, read it with trials_summary."
        ),
        annotations=STARTS_PROCESSES,
    )
    @tool_errors
    async def start_trials(
        ctx: Context,
        round_file: str,
        storage: Annotated[
            str | None, Field(description="a database URL; default: the round's")
        ] = None,
    ) -> DetachedRound:
        def work(control: Control) -> DetachedRound:
            from dlpilot.tools.trials import load_round, start_detached

            path = state.roots.resolve(round_file)
            state.roots.resolve(str(load_round(path).work_dir))  # trials write under it
            control.progress(0, None, f"starting {path}")
            return start_detached(path, storage=storage)

        return await run_tool(ctx, work)

    @server.tool(
        name="trials_status",
        description=(
            "Where the project's studies stand: trials by state (complete, pruned, failed, "
            "running, waiting) against the round's budget, the best so far, live runners."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def trials_status(
        ctx: Context, name: str | None = None, project: str = "."
    ) -> TrialsStatus:
        where = _project(project)

        def work(control: Control) -> TrialsStatus:
            from dlpilot.tools.trials import all_status, study_status

            studies = [study_status(name, where)] if name else all_status(where)
            for s in studies:
                done = sum(n for k, n in s.counts.items() if k not in ("running", "waiting"))
                control.progress(done, s.trials, f"{s.study}: {done} of {s.trials} done")
            return TrialsStatus(studies=studies)

        return await run_tool(ctx, work)

    @server.tool(
        name="trials_summary",
        description=(
            "A study's summary: every trial (state, params, value, last step, exit cause, "
            "directory), the best trial, the baseline, and the playbook's findings."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def trials_summary(ctx: Context, name: str, project: str = ".") -> StudySummary:
        where = _project(project)

        def work(control: Control) -> StudySummary:
            from dlpilot.tools.trials import study_summary

            control.progress(0, None, f"reading study {name}")
            return study_summary(name, where)

        return await run_tool(ctx, work)

    @server.tool(
        name="trials_plot",
        description=(
            "A round's plots as a PNG image: 'axes' (the objective against each varied "
            "parameter, infeasible trials marked), 'progress' (the best value over trials), "
            "'curves' (training curves of the top trials), 'importances' (parameter importances)."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def trials_plot(
        ctx: Context,
        name: str,
        plot: Literal["axes", "progress", "curves", "importances"] = "axes",
        project: str = ".",
    ) -> Annotated[CallToolResult, TrialsPlot]:
        where = _project(project)

        def draw(control: Control) -> dict[str, bytes]:
            from dlpilot.tools.trials import (
                plot_round_data,
                render_round_pngs,
                study_round,
                study_summary,
                trial_curves,
            )

            round_ = study_round(name, where)
            records = study_summary(name, where).trials
            control.progress(0, None, f"drawing the plots of study {name}")
            return render_round_pngs(
                plot_round_data(round_, records, trial_curves(round_, records))
            )

        pngs = await run_tool(ctx, draw)
        result = TrialsPlot(study=name, plot=plot, available=sorted(pngs))
        png = pngs.get(plot)
        if png is None:
            text = f"study {name}: no {plot!r} plot (too few trials); it has {sorted(pngs)}"
            return with_image(result, None, text, error=True)
        return with_image(result, png, f"study {name}: {plot} plot")

    @server.tool(
        name="stop_trials",
        description=(
            "Stop a study's runners; its running trials are stopped and run again by the next "
            "start_trials of the same round file."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True
        ),
    )
    @tool_errors
    async def stop_trials(ctx: Context, name: str, project: str = ".") -> StopResult:
        where = _project(project)

        def work(control: Control) -> StopResult:
            from dlpilot.tools.trials import stop_study

            return stop_study(name, where)

        return await run_tool(ctx, work)


__all__ = ["TrialsStatus", "register"]
