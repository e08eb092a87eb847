"""The Claude driver of the runbook: a headless round walked by a model, for CI and the terminal.

The model gets the runbook's operations (:data:`dlpilot.runbook.OPS`, the MCP server's runbook
tools) through the ``anthropic`` SDK's tool use; each call is validated and run by the runbook,
and a refused answer goes back to the model with the reason. Everything is persisted by the
runbook as it happens, so a stopped or failed drive is continued by running it again.

How ``dlpilot round --agent rules|claude|auto`` calls it::

    from dlpilot.agent import choose_agent, drive_round

    agent, why = choose_agent(args.agent)      # ("rules" | "claude", a sentence to print);
                                               # --agent claude without ANTHROPIC_API_KEY raises
                                               # MissingApiKey (a DlpilotError: exit 2)
    print(f"dlpilot: {why}", file=sys.stderr)
    if agent == "claude":
        result = drive_round(project, through=7)  # 9 after the trials' summary is recorded
        # result.done: steps up to `through` answered; otherwise result.stop and result.message
        # say why it stopped (the answers are kept; running again continues).
        # summary.json: summary["agent"] = result.summary()  (model, stop, message, turns,
        #     tool calls, rejected, usage sums, cost_usd with its note); every field of the
        #     drive is result.model_dump(mode="json") (per-call usage, each tool call).
    else:
        ...                                    # the rules walk the round

``drive_round`` raises :class:`AgentError` when the API fails mid-round (``.result`` holds the
drive so far, usage included) and :class:`MissingApiKey` without a key and no ``client``. Its
limits are keyword arguments with defaults: ``model`` (:data:`DEFAULT_MODEL`), ``max_turns``,
``max_tokens`` (per reply), ``token_budget`` (per drive); ``progress`` takes one line per tool
call; tests pass ``client=anthropic.Anthropic(api_key=..., http_client=httpx2.Client(
transport=httpx2.MockTransport(handler)), max_retries=0)``.

``cost_usd`` is an estimate from the list prices in :data:`PRICES` (None for an unpriced model).
"""

from __future__ import annotations

from dlpilot.agent._driver import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MAX_TURNS,
    DEFAULT_MODEL,
    DEFAULT_THROUGH,
    DEFAULT_TOKEN_BUDGET,
    DriveResult,
    ToolCall,
    drive_round,
    make_client,
)
from dlpilot.agent._errors import AgentError, MissingApiKey
from dlpilot.agent._pricing import PRICES, estimate_cost
from dlpilot.agent._select import API_KEY_ENV, choose_agent
from dlpilot.agent._usage import CallUsage, Usage

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MAX_TURNS",
    "DEFAULT_MODEL",
    "DEFAULT_THROUGH",
    "DEFAULT_TOKEN_BUDGET",
    "PRICES",
    "AgentError",
    "CallUsage",
    "DriveResult",
    "MissingApiKey",
    "ToolCall",
    "Usage",
    "choose_agent",
    "drive_round",
    "estimate_cost",
    "make_client",
]
