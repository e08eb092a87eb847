"""The runbook over MCP: every operation of ``dlpilot.runbook.OPS`` as a tool (with a ``project``
argument, checked against the allowed roots); its state resource and round prompt are in
``_resources``. The tools are generated from the registry, so they cannot drift from what
the Claude driver gives its model."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from dlpilot.runbook import OPS, Op, Runbook, call
from dlpilot.server._adapt import run_tool, tool_errors
from dlpilot.server._state import ServerState

PROJECT_DESCRIPTION = "the project directory (default: the server's first root)"


def register(server: MCPServer, state: ServerState) -> None:
    for op in OPS:
        server.add_tool(
            _handler(op, state),
            name=op.name,
            description=op.description,
            annotations=ToolAnnotations(
                read_only_hint=op.read_only, destructive_hint=False, idempotent_hint=op.read_only
            ),
        )


def _handler(op: Op, state: ServerState) -> Any:
    """An async tool function whose signature is ``project`` plus the op's input fields."""

    async def handler(ctx: Context, **kwargs: Any) -> BaseModel:
        project = kwargs.pop("project", None) or "."
        root = state.roots.resolve(project)
        runbook = Runbook(root)
        arguments = {k: v for k, v in kwargs.items() if v is not None or k in _required(op)}
        return await run_tool(ctx, lambda control: call(runbook, op.name, arguments))

    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context),
        inspect.Parameter(
            "project", inspect.Parameter.KEYWORD_ONLY, default=".",
            annotation=Annotated[str, Field(description=PROJECT_DESCRIPTION)],
        )
    ]  # fmt: skip
    for name, field in op.input.model_fields.items():
        parts = (field.annotation, *field.metadata, Field(description=field.description))
        annotation: Any = Annotated.__class_getitem__(parts)  # type: ignore[attr-defined]
        default = (
            inspect.Parameter.empty
            if field.is_required()
            else field.get_default(call_default_factory=True)
        )
        params.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                              annotation=annotation)
        )  # fmt: skip
    handler.__signature__ = inspect.Signature(params, return_annotation=op.output)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in params} | {"return": op.output}
    handler.__name__ = op.name
    handler.__doc__ = op.description
    return tool_errors(handler)


def _required(op: Op) -> set[str]:
    return {n for n, f in op.input.model_fields.items() if f.is_required()}


__all__ = ["register"]
