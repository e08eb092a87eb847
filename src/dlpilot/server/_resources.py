"""The server's resources and prompts, registered in one place and one way: each resource is a
function of the server's state that returns its text (JSON unless it says otherwise). The SDK runs
a plain function resource in a worker thread, so reading the runbook's state or rendering a gap
report never holds the event loop (``tests/server/test_event_loop.py`` keeps it so)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage

from dlpilot.findings import CATALOGUE
from dlpilot.runbook import Runbook
from dlpilot.server._state import ServerState

JSON = "application/json"
MARKDOWN = "text/markdown"

_LAST = (
    ("inspection", "inspect_repo", "dlpilot://inspection/last", "last inspection",
     "The report of the latest inspect_repo or gap_report call of this server."),
    ("check", "check_script", "dlpilot://check/last", "last check",
     "The latest check_script report: findings, overfit test, child run."),
    ("curves", "diagnose_curves", "dlpilot://curves/last", "last curve diagnosis",
     "The latest diagnose_curves result: findings, verdict, bias/variance."),
)  # fmt: skip
"""The latest result of a tool, kept by the server: (state key, tool, uri, name, description)."""


def _json(value: Any) -> str:
    return json.dumps(value, indent=1)


def register(server: MCPServer, state: ServerState) -> None:
    def add(uri: str, name: str, description: str, text: Callable[[], str], mime: str) -> None:
        server.resource(uri, name=name, description=description, mime_type=mime)(text)

    add(
        "dlpilot://checks",
        "check catalogue",
        "Every finding id dlpilot reports: severity, ways it is seen, the problem.",
        lambda: _json([spec.model_dump(mode="json") for spec in CATALOGUE.values()]),
        JSON,
    )
    for kind, tool, uri, name, description in _LAST:
        add(uri, name, description, _last_json(state, kind, tool), JSON)
    add(
        "dlpilot://inspection/last/gap-report",
        "last gap report",
        "Seed 000's gap analysis of the latest inspection, as Markdown.",
        lambda: _gap_report(state),
        MARKDOWN,
    )
    add(
        "dlpilot://runbook/state",
        "runbook state",
        "The runbook of the server's first root: every round, answer and evidence.",
        lambda: _json(Runbook(state.roots.primary).state().dump()),
        JSON,
    )
    _register_prompts(server)


def _last_json(state: ServerState, kind: str, tool: str) -> Callable[[], str]:
    def text() -> str:
        result = state.last.get(kind)
        if result is None:
            return json.dumps({"error": f"nothing yet: call the {tool} tool first"})
        return str(result.model_dump_json(indent=1))

    text.__name__ = f"last_{kind}"
    return text


def _gap_report(state: ServerState) -> str:
    from dlpilot.tools.inspect import gap_report_markdown

    report = state.last.get("inspection")
    if report is None:
        return "No inspection yet: call the inspect_repo tool first."
    return gap_report_markdown(report)


REVIEW_PROMPT = """\
Review the deep-learning project at {path!r} with dlpilot.
1. Call inspect_repo on it and read every finding.
2. Explain the error-level findings first: what breaks, where (file:line), the fix.
3. Then the warnings, grouped by checklist area (data, training loop, reproducibility, \
checkpoints, repository).
4. Call gap_report and give the priority fixes as a short ordered list.
Do not invent findings that dlpilot did not report; say which checks need running the code \
(runtime checks) to be sure."""

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


def _register_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="review_project",
        description="Review a PyTorch project: inspect it, explain the findings, plan the fixes.",
    )
    def review_project(path: str = ".") -> list[UserMessage]:
        return [UserMessage(REVIEW_PROMPT.format(path=path))]

    @server.prompt(
        name="optimize_round",
        description="Walk one round of the nine-step optimization runbook (seed 001 section 7).",
    )
    def optimize_round(path: str = ".") -> list[UserMessage]:
        return [UserMessage(ROUND_PROMPT.format(path=path))]


__all__ = ["REVIEW_PROMPT", "ROUND_PROMPT", "register"]
