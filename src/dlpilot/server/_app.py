"""Build the dlpilot MCP server: tools, resources and prompts, bound to allowed roots."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage

from dlpilot import __version__
from dlpilot.findings import CATALOGUE
from dlpilot.server import (
    _check_tools,
    _curves_tools,
    _inspect_tools,
    _runbook_tools,
    _trials_tools,
)
from dlpilot.server._roots import Roots
from dlpilot.server._state import ServerState

INSTRUCTIONS = """\
dlpilot finds what is wrong with a PyTorch project's training and helps it train better.
Start with inspect_repo on the project (static, fast, runs no code). Every finding has a stable id
from the check catalogue (resource dlpilot://checks), a severity (error > warning > info), a message
and evidence (file:line, step, values). Fix errors before tuning anything."""


def build_server(roots: Roots | Sequence[str | os.PathLike[str]] | None = None) -> MCPServer:
    """The server, allowed to read and write under ``roots`` (default: the current directory)."""
    if not isinstance(roots, Roots):
        roots = Roots(roots or [os.getcwd()])
    state = ServerState(roots=roots)
    server = MCPServer(name="dlpilot", version=__version__, instructions=INSTRUCTIONS)
    _inspect_tools.register(server, state)
    _curves_tools.register(server, state)
    _check_tools.register(server, state)
    _trials_tools.register(server, state)
    _runbook_tools.register(server, state)  # the runbook's ops registry, state and prompt
    _register_resources(server, state)
    _register_prompts(server)
    return server


def _register_resources(server: MCPServer, state: ServerState) -> None:
    @server.resource(
        "dlpilot://checks",
        name="check catalogue",
        description="Every finding id dlpilot reports: severity, ways it is seen, the problem.",
        mime_type="application/json",
    )
    def checks() -> str:
        return json.dumps([spec.model_dump(mode="json") for spec in CATALOGUE.values()], indent=1)

    @server.resource(
        "dlpilot://inspection/last",
        name="last inspection",
        description="The report of the latest inspect_repo or gap_report call of this server.",
        mime_type="application/json",
    )
    def last_inspection() -> str:
        return _last_json(state, "inspection", "inspect_repo")

    @server.resource(
        "dlpilot://check/last",
        name="last check",
        description="The latest check_script report: findings, overfit test, child run.",
        mime_type="application/json",
    )
    def last_check() -> str:
        return _last_json(state, "check", "check_script")

    @server.resource(
        "dlpilot://curves/last",
        name="last curve diagnosis",
        description="The latest diagnose_curves result: findings, verdict, bias/variance.",
        mime_type="application/json",
    )
    def last_curves() -> str:
        return _last_json(state, "curves", "diagnose_curves")

    @server.resource(
        "dlpilot://inspection/last/gap-report",
        name="last gap report",
        description="Seed 000's gap analysis of the latest inspection, as Markdown.",
        mime_type="text/markdown",
    )
    def last_gap_report() -> str:
        from dlpilot.tools.inspect.gap import gap_report_markdown

        report = state.last.get("inspection")
        if report is None:
            return "No inspection yet: call the inspect_repo tool first."
        return gap_report_markdown(report)


def _last_json(state: ServerState, kind: str, tool: str) -> str:
    result = state.last.get(kind)
    if result is None:
        return json.dumps({"error": f"nothing yet: call the {tool} tool first"})
    return str(result.model_dump_json(indent=1))


def _register_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="review_project",
        description="Review a PyTorch project: inspect it, explain the findings, plan the fixes.",
    )
    def review_project(path: str = ".") -> list[UserMessage]:
        return [
            UserMessage(
                f"Review the deep-learning project at {path!r} with dlpilot.\n"
                "1. Call inspect_repo on it and read every finding.\n"
                "2. Explain the error-level findings first: what breaks, where (file:line), "
                "the fix.\n"
                "3. Then the warnings, grouped by checklist area (data, training loop, "
                "reproducibility, checkpoints, repository).\n"
                "4. Call gap_report and give the priority fixes as a short ordered list.\n"
                "Do not invent findings that dlpilot did not report; say which checks need running "
                "the code (runtime checks) to be sure."
            )
        ]


__all__ = ["build_server"]
