"""MCP tools for repository inspection."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from dlpilot.server._adapt import run_tool, tool_errors
from dlpilot.server._state import ServerState
from dlpilot.tools.control import Control
from dlpilot.tools.inspect import InspectionReport

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class GapReport(BaseModel):
    """Seed 000's gap analysis, filled from an inspection."""

    root: str
    markdown: str = Field(description="the gap report as Markdown")
    errors: int
    warnings: int


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="inspect_repo",
        description=(
            "Statically inspect a PyTorch project (no code is run) against the seed checklists; "
            "returns findings with ids, severities, messages and file:line evidence."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def inspect_repo(ctx: Context, path: str = ".") -> InspectionReport:
        from dlpilot.tools.inspect import inspect_repo as run_inspection

        root = state.roots.resolve(path)
        report = await run_tool(ctx, run_inspection, root)
        state.last["inspection"] = report
        return report

    @server.tool(
        name="gap_report",
        description=(
            "Inspect a project and fill seed 000's Gap Analysis Template (status tables, priority "
            "fixes, recommendations) as Markdown."
        ),
        annotations=READ_ONLY,
    )
    @tool_errors
    async def gap_report(ctx: Context, path: str = ".") -> GapReport:
        root = state.roots.resolve(path)

        def work(control: Control) -> tuple[InspectionReport, str]:
            from dlpilot.tools.inspect import gap_report_markdown
            from dlpilot.tools.inspect import inspect_repo as run_inspection

            report = run_inspection(root, control=control)
            return report, gap_report_markdown(report)

        report, markdown = await run_tool(ctx, work)
        state.last["inspection"] = report
        return GapReport(
            root=str(root),
            markdown=markdown,
            errors=sum(1 for f in report.findings if f.severity == "error"),
            warnings=sum(1 for f in report.findings if f.severity == "warning"),
        )


__all__ = ["GapReport", "register"]
