"""The runbook over MCP: every operation of ``dlpilot.runbook.OPS`` as a tool (with a ``project``
argument, checked against the allowed roots), the state as a resource, and a prompt that walks an
agent through a round. The tools are generated from the registry, so they cannot drift from what
the Claude driver gives its model."""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from dlpilot.runbook import OPS, Op, Runbook, call
from dlpilot.server._adapt import tool_errors
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

    @server.resource(
        "dlpilot://runbook/state",
        name="runbook state",
        description="The runbook of the server's first root: every round, answer and evidence.",
        mime_type="application/json",
    )
    def runbook_state() -> str:
        rb = Runbook(state.roots.primary)
        return json.dumps(rb.state().dump(), indent=1)

    @server.prompt(
        name="optimize_round",
        description="Walk one round of the nine-step optimization runbook (seed 001 section 7).",
    )
    def optimize_round(path: str = ".") -> list[UserMessage]:
        return [UserMessage(ROUND_PROMPT.format(path=path))]


ROUND_PROMPT = """\
Walk one optimization round of the deep-learning project at {path!r} with dlpilot's runbook.
1. Call runbook_status(project={path!r}): it gives the round, the current step, its question,
   the answer_schema, the evidence so far and what is missing.
2. For each open step: call runbook_propose to see the rules' answer and why. Check it against
   the code and the evidence; then call runbook_answer with your own answer (fields as in the
   answer_schema) and a `why`, or with accept_proposal=true when the proposal is right. A refused
   answer says which step and field is wrong: fix it and answer again.
3. Evidence the runbook cannot produce itself: run the tools (check_script, diagnose_curves, the
   trials tools) and record their JSON results with runbook_add_evidence (kind check, curves,
   trials, lr-range); runbook_gather reads the project, the inspection and curves statically.
4. At step 4 an error-level finding makes the bottleneck "bugs": fix them before any tuning.
5. Step 7 writes the round file; run it (dlpilot trials run), record its summary as evidence of
   kind trials, then answer steps 8 and 9. Step 9 closes the round; the next starts at step 4.
To change an earlier answer, call runbook_revise: it reopens the steps that depend on it.
Do not invent results: every number in an answer must come from recorded evidence."""


def _handler(op: Op, state: ServerState) -> Any:
    """An async tool function whose signature is ``project`` plus the op's input fields."""

    async def handler(**kwargs: Any) -> BaseModel:
        project = kwargs.pop("project", None) or "."
        root = state.roots.resolve(project)
        runbook = Runbook(root)
        arguments = {k: v for k, v in kwargs.items() if v is not None or k in _required(op)}
        return await anyio.to_thread.run_sync(lambda: call(runbook, op.name, arguments))

    params = [
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


__all__ = ["ROUND_PROMPT", "register"]
