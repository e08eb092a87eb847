"""The MCP server: only wiring. Tools live in ``dlpilot.tools``; this is the one package that
imports ``mcp``."""

from dlpilot.server._app import build_server
from dlpilot.server._roots import Roots

__all__ = ["Roots", "build_server"]
