"""MCP tools that run the user's code in the sandbox: the script check, the overfit test, and the
entry-point tools (checks, LR range test, batch-size finder, drafting the table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, StrictBool

from dlpilot.server._adapt import run_tool, tool_errors
from dlpilot.server._content import with_image
from dlpilot.server._state import ServerState
from dlpilot.tools.checks import OverfitResult, ProjectCheck
from dlpilot.tools.checks.entry import BatchSizeResult, EntryReport, LrRangeResult
from dlpilot.tools.control import Control

RUNS_USER_CODE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
"""The user's own script runs: it may write checkpoints and logs wherever it writes them."""
RUNS_FACTORIES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
"""Only the project's factories run (model, data, loss, optimizer); nothing is written."""


class EntryTable(BaseModel):
    """A drafted ``[tool.dlpilot]`` table (TOML), and where it was written, if it was."""

    project: str
    toml: str
    written_to: str | None = None


def register(server: MCPServer, state: ServerState) -> None:
    def _project(project: str) -> Path:
        """A project directory inside the roots whose table files (read in this process) are
        inside the roots too, links resolved."""
        from dlpilot.tools.checks.entry import DLPILOT_TOML, PYPROJECT

        root = state.roots.resolve(project)
        for name in (PYPROJECT, DLPILOT_TOML):
            if (root / name).is_symlink():
                state.roots.guard(root / name)
        return root

    def _cwd_and_script(command: list[str], cwd: str) -> Path:
        """The working directory, after checking (before anything runs) that the command runs
        an allowed interpreter on a file inside the roots; the tool checks it again."""
        from dlpilot.tools.checks import parse_command

        root = _project(cwd)
        parse_command(command, root, guard=state.roots.guard)
        return root

    @server.tool(
        name="check_script",
        description=(
            "Run a training command (e.g. ['python', 'train.py'], ['torchrun', "
            "'--nproc_per_node=2', 'train.py'], ['bash', 'run.sh'], ['make', 'train']) under "
            "dlpilot's probe for a few short epochs, then the single-batch overfit test; returns "
            "findings with evidence. env sets variables; pass_env passes ones the sandbox drops."
        ),
        annotations=RUNS_USER_CODE,
    )
    @tool_errors
    async def check_script(
        ctx: Context,
        command: Annotated[list[str], Field(min_length=1)],
        cwd: str = ".",
        steps: Annotated[int | None, Field(ge=1, le=10_000)] = None,
        overfit: bool = True,
        overfit_steps: Annotated[int | None, Field(ge=1, le=5_000)] = None,
        timeout_s: Annotated[float | None, Field(gt=0, le=24 * 3600)] = None,
        entry: bool | None = None,
        no_network: bool = False,
        env: Annotated[
            dict[str, str] | None, Field(description="variables to set for the command")
        ] = None,
        pass_env: Annotated[
            list[str] | None,
            Field(description="names of the server's variables to pass (dropped by default)"),
        ] = None,
    ) -> Annotated[CallToolResult, ProjectCheck]:
        root = _cwd_and_script(command, cwd)
        options: dict[str, Any] = {
            k: v
            for k, v in (
                ("steps", steps),
                ("overfit_steps", overfit_steps),
                ("timeout_s", timeout_s),
            )
            if v is not None
        }

        def work(control: Control) -> tuple[ProjectCheck, bytes | None, str]:
            from dlpilot.tools.checks import check_project, plot_overfit, render_check

            report = check_project(
                command,
                cwd=root,
                overfit=overfit,
                entry=entry,
                no_network=no_network,
                guard=state.roots.guard,
                control=control,
                env=env,
                pass_env=pass_env,
                **options,
            )
            over = report.overfit
            png = plot_overfit(over) if over and over.losses else None
            return report, png, render_check(report)

        report, png, summary = await run_tool(ctx, work)
        state.last["check"] = report
        if report.error is not None:
            summary = f"NOT CHECKED: {report.error}\n{summary}"
        return with_image(report, png, summary, error=report.error is not None)

    @server.tool(
        name="overfit_test",
        description=(
            "Single-batch overfit test of a training command: replay its first batch with dropout "
            "and weight decay off; passes when loss goes to ~0 (accuracy ~100%)."
        ),
        annotations=RUNS_USER_CODE,
    )
    @tool_errors
    async def overfit_test(
        ctx: Context,
        command: Annotated[list[str], Field(min_length=1)],
        cwd: str = ".",
        overfit_steps: Annotated[int | None, Field(ge=1, le=5_000)] = None,
        env: Annotated[
            dict[str, str] | None, Field(description="variables to set for the command")
        ] = None,
        pass_env: Annotated[
            list[str] | None,
            Field(description="names of the server's variables to pass (dropped by default)"),
        ] = None,
    ) -> Annotated[CallToolResult, OverfitResult]:
        root = _cwd_and_script(command, cwd)
        options: dict[str, Any] = {"env": env, "pass_env": pass_env}
        if overfit_steps is not None:
            options["overfit_steps"] = overfit_steps

        def work(control: Control) -> tuple[OverfitResult, bytes | None, str | None]:
            from dlpilot.tools.checks import overfit_line, plot_overfit
            from dlpilot.tools.checks import overfit_test as run_overfit

            result = run_overfit(command, cwd=root, guard=state.roots.guard, control=control,
                                 **options)  # fmt: skip
            return result, plot_overfit(result) if result.losses else None, overfit_line(result)

        result, png, summary = await run_tool(ctx, work)
        never = result.steps == 0 and result.run is not None and result.run.cause != "ok"
        if never and result.run is not None:
            summary = f"NOT CHECKED: the script never reached a training step: {result.run.summary}"
        return with_image(result, png, summary or "", error=never)

    @server.tool(
        name="check_entry_points",
        description=(
            "Build the project's parts from its [tool.dlpilot] factories and check them: label "
            "range, initial loss vs ln C, input statistics, split overlap, overfit test."
        ),
        annotations=RUNS_FACTORIES,
    )
    @tool_errors
    async def check_entry_points(
        ctx: Context, project: str = ".", overfit: bool = True
    ) -> Annotated[CallToolResult, EntryReport]:
        root = _project(project)

        def work(control: Control) -> tuple[EntryReport, bytes | None, str]:
            from dlpilot.tools.checks import plot_overfit, render_entry
            from dlpilot.tools.checks.entry import run_entry_checks

            report = run_entry_checks(root, overfit=overfit, control=control)
            over = report.overfit
            png = plot_overfit(over) if over is not None and over.losses else None
            return report, png, render_entry(report)

        report, png, summary = await run_tool(ctx, work)
        return with_image(report, png, summary)

    @server.tool(
        name="lr_range_test",
        description=(
            "LR range test through the project's [tool.dlpilot] factories: exponential ramp, "
            "smoothed loss, stop on divergence; suggests an lr and returns the curve as PNG."
        ),
        annotations=RUNS_FACTORIES,
    )
    @tool_errors
    async def lr_range_test(
        ctx: Context,
        project: str = ".",
        lr_min: Annotated[float, Field(gt=0)] = 1e-7,
        lr_max: Annotated[float, Field(gt=0)] = 10.0,
        steps: Annotated[int, Field(ge=10, le=10_000)] = 100,
    ) -> Annotated[CallToolResult, LrRangeResult]:
        root = _project(project)

        def work(control: Control) -> tuple[LrRangeResult, bytes, str]:
            from dlpilot.tools.checks.entry import lr_range_test as run_lr_range
            from dlpilot.tools.checks.entry import plot_lr_range, render_lr_range

            result = run_lr_range(root, lr_min=lr_min, lr_max=lr_max, steps=steps, control=control)
            return result, plot_lr_range(result), render_lr_range(result)

        result, png, summary = await run_tool(ctx, work)
        return with_image(result, png, summary)

    @server.tool(
        name="find_batch_size",
        description=(
            "Find the largest batch size that fits on the GPU (grow, then binary search, with a "
            "margin); on CPU, report throughput per batch size instead."
        ),
        annotations=RUNS_FACTORIES,
    )
    @tool_errors
    async def find_batch_size(
        ctx: Context,
        project: str = ".",
        max_batch_size: Annotated[int | None, Field(ge=1, le=1 << 20)] = None,
    ) -> BatchSizeResult:
        from dlpilot.tools.checks.entry import find_batch_size as run_finder

        options = {} if max_batch_size is None else {"max_batch_size": max_batch_size}
        return await run_tool(ctx, run_finder, _project(project), **options)

    @server.tool(
        name="propose_entry_table",
        description=(
            "Draft the project's [tool.dlpilot] table (model, data, loss, optimizer factories, "
            "train command) by reading its code; write=true adds it to pyproject.toml."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    @tool_errors
    async def propose_entry_table(
        ctx: Context, project: str = ".", write: StrictBool = False, force: StrictBool = False
    ) -> EntryTable:
        root = state.roots.resolve(project)
        guard = state.roots.guard

        def work(control: Control) -> EntryTable:
            from dlpilot.tools.checks.entry import propose_entry_table as propose
            from dlpilot.tools.checks.entry import write_entry_table

            control.progress(0, None, f"reading {root}")
            toml = propose(root, guard=guard)
            written = str(write_entry_table(root, force=force, guard=guard)) if write else None
            return EntryTable(project=str(root), toml=toml, written_to=written)

        return await run_tool(ctx, work)


__all__ = ["EntryTable", "register"]
