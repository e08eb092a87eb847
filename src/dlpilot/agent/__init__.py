"""The Claude driver of the runbook: a headless round walked by a model, for CI and the terminal.

The model gets the runbook's operations (:data:`dlpilot.runbook.OPS`, the MCP server's runbook
tools) through the ``anthropic`` SDK's tool use; each call is validated and run by the runbook,
and a refused answer goes back to the model with the reason. Everything is persisted by the
runbook as it happens, so a stopped or failed drive is continued by running it again.

How ``dlpilot round --agent claude|auto`` uses it (``dlpilot.rounds``): its hook calls
``dlpilot.agent.claude_agent()``, a :class:`ClaudeAgent` whose ``answer_step(runbook, step, *,
trials_cap)`` lets Claude answer that one step (all steps of a round in one conversation) and
raises ``RunbookError`` with the reason when it did not; an API failure raises
:class:`AgentError`. After the walk, ``agent.summary()`` is the agent's part of ``summary.json``
(model, stop, turns, tool calls, usage sums, ``cost_usd``). Choosing the agent::

    agent_name, why = choose_agent(args.agent)  # ("rules" | "claude", a sentence to print);
                                                # claude without ANTHROPIC_API_KEY raises
                                                # MissingApiKey (a DlpilotError: exit 2)

Headless without the round machinery (no check, baseline run or trials in between)::

    result = drive_round(project, through=7)    # -> DriveResult; 9 once trial results are in
    result.done, result.stop, result.message    # why it stopped; the answers are kept, and
                                                # running again continues from the current step

Limits are keyword arguments with defaults: ``model`` (:data:`DEFAULT_MODEL`), ``max_turns``,
``max_tokens`` (per reply), ``token_budget`` (per drive), ``trials_cap`` (``--trials``);
``progress`` takes one line per tool call. Tests pass ``client=anthropic.Anthropic(api_key=...,
http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), max_retries=0)``.

``cost_usd`` is an estimate from the list prices in :data:`PRICES` (None for an unpriced model).
"""

from __future__ import annotations

from dlpilot.agent._driver import (
    COST_NOTE,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MAX_TURNS,
    DEFAULT_MODEL,
    DEFAULT_THROUGH,
    DEFAULT_TOKEN_BUDGET,
    ClaudeSession,
    DriveResult,
    ToolCall,
    drive_round,
    make_client,
)
from dlpilot.agent._errors import AgentError, MissingApiKey
from dlpilot.agent._hook import ClaudeAgent, claude_agent
from dlpilot.agent._pricing import PRICES, estimate_cost
from dlpilot.agent._select import API_KEY_ENV, choose_agent
from dlpilot.agent._usage import CallUsage, Usage

__all__ = [
    "API_KEY_ENV",
    "COST_NOTE",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MAX_TURNS",
    "DEFAULT_MODEL",
    "DEFAULT_THROUGH",
    "DEFAULT_TOKEN_BUDGET",
    "PRICES",
    "AgentError",
    "CallUsage",
    "ClaudeAgent",
    "ClaudeSession",
    "DriveResult",
    "MissingApiKey",
    "ToolCall",
    "Usage",
    "choose_agent",
    "claude_agent",
    "drive_round",
    "estimate_cost",
    "make_client",
]
