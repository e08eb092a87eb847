"""Build the dlpilot MCP server: tools, resources and prompts, bound to allowed roots."""

from __future__ import annotations

import os
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer

from dlpilot import __version__
from dlpilot.server import (
    _check_tools,
    _curves_tools,
    _inspect_tools,
    _resources,
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
    _runbook_tools.register(server, state)  # the runbook's ops registry, as tools
    _resources.register(server, state)  # every resource and prompt
    return server


__all__ = ["build_server"]
