"""The Claude driver: a model walks the runbook through the same operations the MCP server offers.

The model gets :data:`dlpilot.runbook.OPS` as its tools (``Op.tool()``: the same names and input
schemas the server registers), and every call goes through :func:`dlpilot.runbook.call`, so an
answer from Claude is checked by the same validation and rules as one from an IDE or a person. A
refused call goes back to the model as a ``tool_result`` with ``is_error`` and the reason, and the
model corrects itself. The runbook persists each answer as it is given, so a drive that stops (an
API error, the turn or token limit, the model ending its turn) loses nothing, and the next drive
continues from the runbook's current step.

``anthropic`` is imported on first use (it takes seconds to import; the CLI stays fast).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, JsonValue, ValidationError

from dlpilot.agent._errors import AgentError
from dlpilot.agent._pricing import estimate_cost
from dlpilot.agent._prompt import SYSTEM_PROMPT, opening_message
from dlpilot.agent._select import require_api_key
from dlpilot.agent._usage import CallUsage, Usage
from dlpilot.errors import DlpilotError, InvalidArgument
from dlpilot.runbook import OPS, OPS_BY_NAME, AnswerResult, Runbook, StateFileError, call

if TYPE_CHECKING:
    from anthropic import Anthropic
    from anthropic.types import MessageParam, ToolResultBlockParam, ToolUseBlock

DEFAULT_MODEL = "claude-sonnet-5-5"
"""The current Sonnet of the SDK's ``ModelParam``: strong tool use at a mid-range price."""
DEFAULT_MAX_TURNS = 60
"""Messages API calls per drive: nine steps at a status read, a proposal, an answer and a
correction each (about 36 calls) fit with room; a model that loops is stopped."""
DEFAULT_MAX_TOKENS = 8192
"""Output tokens per reply: room for thinking plus the longest answer (step 7's round file)."""
DEFAULT_TOKEN_BUDGET = 1_000_000
"""Tokens per drive, input (cached or not) and output summed: the history is re-sent on every
call; a million is a few dollars on the default model and stops a runaway drive."""
DEFAULT_THROUGH = 7
"""Walk steps 1-7 (up to the round file); steps 8 and 9 need trial results."""
API_TIMEOUT_S = 300.0
"""Seconds for one Messages API call: a long reply with thinking over a long history."""
API_RETRIES = 2
"""Retries of a failed call (429, 5xx, connection) with the SDK's backoff, before giving up."""
MAX_TOOL_RESULT_CHARS = 60_000
"""A tool result longer than this (about 15k tokens) is cut, so one large history or evidence
dump cannot fill the context window."""

COST_NOTE = "estimate from list prices per million tokens; None for a model without a price"

StopReason = Literal["done", "end_turn", "max_turns", "max_tokens", "token_budget", "refusal",
                     "stopped", "api_error"]  # fmt: skip


class ToolCall(BaseModel):
    """One tool call the model made, and what came of it."""

    turn: int
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    ok: bool
    error: str = ""
    step: int | None = Field(default=None, description="the step answered, for runbook_answer")


class DriveResult(BaseModel):
    """What one drive of the runbook did, how it stopped, and what it used."""

    agent: Literal["claude"] = "claude"
    model: str
    project: str
    round: int = Field(description="the round the drive walked")
    start_step: int | None = Field(description="the runbook's step when the drive started")
    step: int | None = Field(description="the runbook's current step when it stopped")
    new_round: int | None = Field(default=None, description="set when step 9 closed the round")
    through: int = Field(description="the last step the drive was asked to answer")
    answered: list[int] = Field(default_factory=list, description="steps answered in this drive")
    stop: StopReason
    message: str
    turns: int = Field(default=0, description="Messages API calls made")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    rejected: int = Field(default=0, description="tool calls refused and sent back as errors")
    final_text: str = Field(default="", description="the model's last text")
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = Field(
        default=None,
        description="estimate from list prices (agent.PRICES); None for an unpriced model",
    )

    @property
    def done(self) -> bool:
        return self.stop == "done"

    def summary(self) -> dict[str, JsonValue]:
        """The part of ``summary.json`` about the agent: model, how it stopped, turns, tool
        calls, usage and the cost estimate."""
        return {
            "agent": self.agent,
            "model": self.model,
            "stop": self.stop,
            "message": self.message,
            "answered": list(self.answered),
            "turns": self.turns,
            "tool_calls": len(self.tool_calls),
            "rejected": self.rejected,
            "usage": self.usage.model_dump(mode="json", exclude={"calls"}),
            "cost_usd": self.cost_usd,
            "cost_note": COST_NOTE,
        }


def drive_round(
    project_dir: str | os.PathLike[str],
    *,
    client: Anthropic | None = None,
    model: str = DEFAULT_MODEL,
    through: int = DEFAULT_THROUGH,
    max_turns: int = DEFAULT_MAX_TURNS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    trials_cap: int | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> DriveResult:
    """Let Claude walk the runbook of ``project_dir`` from its current step through ``through``.

    ``client`` defaults to ``anthropic.Anthropic`` with the key from ``ANTHROPIC_API_KEY`` (in
    ``env``, default ``os.environ``; :class:`MissingApiKey` without it). Stops when steps up to
    ``through`` of the round are answered (9: when the round is closed), when the model ends its
    turn, after ``max_turns`` calls or ``token_budget`` tokens. ``trials_cap`` caps the trial
    budget of steps 6 and 7. An API error raises :class:`AgentError` (with the drive so far as
    ``.result``); the answers given are kept and a new drive continues from the current step.
    ``progress`` gets one line per tool call.
    """
    session = ClaudeSession(
        project_dir, client=client, model=model, max_turns=max_turns, max_tokens=max_tokens,
        token_budget=token_budget, trials_cap=trials_cap, env=env, progress=progress,
    )  # fmt: skip
    return session.walk(through)


class ClaudeSession:
    """One conversation with the model over one project's runbook. :meth:`walk` goes on to a
    later step in the same conversation (the model keeps what it read); the limits and the
    usage count for the whole session."""

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        *,
        client: Anthropic | None = None,
        model: str = DEFAULT_MODEL,
        max_turns: int = DEFAULT_MAX_TURNS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        trials_cap: int | None = None,
        env: Mapping[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        _check_limits(model, max_turns, max_tokens, token_budget, trials_cap)
        self.runbook = Runbook(project_dir)
        self.max_turns, self.max_tokens, self.token_budget = max_turns, max_tokens, token_budget
        self.trials_cap = trials_cap
        self.progress = progress
        self._client = client
        self._env = env
        self.messages: list[MessageParam] = []
        status = self.runbook.status()
        self.result = DriveResult(
            model=model, project=str(self.runbook.project), round=status.round,
            start_step=status.step, step=status.step, through=DEFAULT_THROUGH, stop="done",
            message="",
        )  # fmt: skip

    def walk(self, through: int = DEFAULT_THROUGH) -> DriveResult:
        """Go on until steps 1 to ``through`` of the session's round are answered, or a limit
        or the model stops the walk. Returns the session's result so far."""
        if not 1 <= through <= 9:
            raise InvalidArgument(f"through = {through}: the runbook's steps are 1 to 9")
        result = self.result
        result.through = through
        if _round_done(self.runbook, result.round, through):
            _finish(self.runbook, result, "done")
            return result
        if self._client is None:
            self._client = make_client(self._env)
        self._say(through)
        stop: StopReason | None = None
        while stop is None:
            stop = self._turn(self._client)
            if stop is None and _round_done(self.runbook, result.round, through):
                stop = "done"
        _finish(self.runbook, result, stop)
        return result

    def _say(self, through: int) -> None:
        """Tell the model how far to go: the opening message, or a note after the tool results
        of the last walk."""
        status = self.runbook.status()
        text = opening_message(status, through, self.trials_cap)
        if not self.messages:
            self.messages.append({"role": "user", "content": text})
            return
        last = self.messages[-1]
        if last["role"] == "user" and isinstance(last["content"], list):
            last["content"].append({"type": "text", "text": text})
        else:
            self.messages.append({"role": "user", "content": text})

    def _turn(self, client: Anthropic) -> StopReason | None:
        """One Messages API call and the tool calls it asks for; a stop reason, or None to go
        on."""
        import anthropic

        result = self.result
        if result.turns >= self.max_turns:
            return "max_turns"
        if result.usage.total_tokens >= self.token_budget:
            return "token_budget"
        result.turns += 1
        tools: Any = [op.tool() for op in OPS]
        try:
            response = client.messages.create(
                model=result.model,
                max_tokens=self.max_tokens,
                system=SYSTEM_PROMPT,
                tools=tools,
                messages=self.messages,
                cache_control={"type": "ephemeral"},
            )
        except anthropic.APIError as exc:
            _finish(self.runbook, result, "api_error")
            raise AgentError(_api_error_message(exc, result), result=result) from exc
        result.usage.add(CallUsage.of(response.usage))
        result.cost_usd = estimate_cost(result.model, result.usage)
        self.messages.append({"role": "assistant", "content": response.content})
        texts = [b.text for b in response.content if b.type == "text" and b.text.strip()]
        if texts:
            result.final_text = texts[-1].strip()
        uses = [b for b in response.content if b.type == "tool_use"]
        if response.stop_reason != "tool_use" or not uses:
            return _stop_of(response.stop_reason)
        replies: list[ToolResultBlockParam] = []
        for block in uses:
            record, reply = _run_tool(self.runbook, block, result.turns, self.trials_cap)
            result.tool_calls.append(record)
            replies.append(reply)
            if not record.ok:
                result.rejected += 1
            elif record.step is not None:
                result.answered.append(record.step)
            if self.progress is not None:
                self.progress(_progress_line(record))
        self.messages.append({"role": "user", "content": replies})
        return None


def make_client(env: Mapping[str, str] | None = None) -> Anthropic:
    """An ``anthropic.Anthropic`` client with the key of ``ANTHROPIC_API_KEY``."""
    key = require_api_key(env)
    import anthropic

    return anthropic.Anthropic(api_key=key, timeout=API_TIMEOUT_S, max_retries=API_RETRIES)


# --- one tool call -------------------------------------------------------------------------------


def _run_tool(
    runbook: Runbook, block: ToolUseBlock, turn: int, trials_cap: int | None = None
) -> tuple[ToolCall, Any]:
    """Run the model's tool call through the runbook; a refusal becomes an ``is_error`` result
    with the reason. A state file the runbook cannot use stops the drive (nothing to correct)."""
    arguments = block.input if isinstance(block.input, dict) else {}
    record = ToolCall(turn=turn, name=block.name, arguments=_jsonable(arguments), ok=True)
    error = ""
    content = ""
    if block.name not in OPS_BY_NAME:
        error = f"there is no tool {block.name!r}; the tools are {', '.join(OPS_BY_NAME)}"
    elif not isinstance(block.input, dict):
        error = f"{block.name}: the arguments must be an object, got {block.input!r}"
    elif trials_cap is not None and (over := _over_cap(block.name, arguments, trials_cap)):
        error = over
    else:
        try:
            output = call(runbook, block.name, arguments)
        except StateFileError:
            raise
        except (DlpilotError, ValidationError) as exc:
            error = str(exc)
        else:
            content = _cut(output.model_dump_json())
            if isinstance(output, AnswerResult):
                record.step = output.step
    reply: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.id}
    if error:
        record.ok = False
        record.error = error
        reply.update(content=f"refused: {error}", is_error=True)
    else:
        reply["content"] = content
    return record, reply


def _over_cap(name: str, arguments: dict[str, Any], cap: int) -> str:
    """Why an answer to step 6 or 7 breaks the round's trial cap (``--trials``), or ''."""
    step = arguments.get("step")
    if name != "runbook_answer" or step not in (6, 7):
        return ""
    if arguments.get("accept_proposal"):
        return (
            f"step {step}: this round's trial budget is capped at {cap} (--trials); answer with "
            "your own fields instead of accept_proposal"
        )
    answer = arguments.get("answer")
    fields = answer.get("round") if step == 7 and isinstance(answer, dict) else answer
    trials = fields.get("trials") if isinstance(fields, dict) else None
    if isinstance(trials, int) and trials > cap:
        where = "field 'trials'" if step == 6 else "field 'round.trials'"
        return f"step {step}: {where} = {trials} exceeds the round's cap of {cap} trials (--trials)"
    return ""


def _cut(text: str) -> str:
    if len(text) <= MAX_TOOL_RESULT_CHARS:
        return text
    return (
        text[:MAX_TOOL_RESULT_CHARS]
        + f"... [cut: {len(text) - MAX_TOOL_RESULT_CHARS} more characters; ask for less]"
    )


def _jsonable(value: dict[str, Any]) -> dict[str, JsonValue]:
    loaded: dict[str, JsonValue] = json.loads(json.dumps(value, default=str))
    return loaded


# --- stopping ------------------------------------------------------------------------------------


def _round_done(runbook: Runbook, number: int, through: int) -> bool:
    """Steps 1 to ``through`` of round ``number`` are answered (or the round is closed)."""
    for rnd in runbook.state().rounds:
        if rnd.number == number:
            return rnd.closed is not None or all(n in rnd.answers for n in range(1, through + 1))
    return False


def _stop_of(stop_reason: str | None) -> StopReason:
    if stop_reason in ("end_turn", "max_tokens", "refusal"):
        reason: StopReason = stop_reason  # type: ignore[assignment]
        return reason
    return "stopped"


def _finish(runbook: Runbook, result: DriveResult, stop: StopReason) -> None:
    status = runbook.status()
    result.step = status.step
    result.new_round = status.round if status.round != result.round else None
    result.stop = stop
    result.cost_usd = estimate_cost(result.model, result.usage)
    result.message = _message(result)


def _message(result: DriveResult) -> str:
    if result.stop == "done":
        return _done_message(result)
    where = (
        f"round {result.round} stopped at step {result.step}"
        if result.new_round is None
        else f"round {result.round} closed, round {result.new_round} is at step {result.step}"
    )
    again = "; the answers given are kept, and running again continues from there"
    why = {
        "end_turn": "the model ended its turn before step "
        f"{result.through}" + (f": {result.final_text[:300]}" if result.final_text else ""),
        "max_turns": f"the turn limit of {result.turns} Messages API calls was reached",
        "max_tokens": "a reply reached the max_tokens limit (raise it)",
        "token_budget": f"the token budget was used up ({result.usage.total_tokens} tokens)",
        "refusal": "the model refused to go on",
        "stopped": "the model stopped",
        "api_error": "the Claude API failed",
    }[result.stop]
    return f"{where}: {why}{again}"


def _done_message(result: DriveResult) -> str:
    if result.new_round is not None:
        return f"round {result.round} closed; round {result.new_round} starts at step {result.step}"
    return f"round {result.round}: steps 1-{result.through} answered"


def _api_error_message(exc: Exception, result: DriveResult) -> str:
    status = getattr(exc, "status_code", None)
    what = f"HTTP {status}" if status is not None else type(exc).__name__
    at = f"step {result.step}" if result.step is not None else "its last step"
    return (
        f"the Claude API failed on call {result.turns} ({what}: {exc}); the runbook keeps every "
        f"answer given so far (round {result.round} is at {at}); run the same command again to "
        "continue from there"
    )


def _progress_line(record: ToolCall) -> str:
    what = f"step {record.step} answered" if record.step is not None else "ok"
    return f"claude: {record.name}: " + (what if record.ok else f"refused: {record.error}")


def _check_limits(
    model: str, max_turns: int, max_tokens: int, budget: int, trials_cap: int | None
) -> None:
    if not model.strip():
        raise InvalidArgument(f"model = {model!r}: name a Claude model id, e.g. {DEFAULT_MODEL}")
    for name, value in (("max_turns", max_turns), ("max_tokens", max_tokens),
                        ("token_budget", budget), ("trials_cap", trials_cap)):  # fmt: skip
        if value is not None and value < 1:
            raise InvalidArgument(f"{name} = {value}: it must be at least 1")


__all__ = [
    "API_RETRIES",
    "API_TIMEOUT_S",
    "COST_NOTE",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MAX_TURNS",
    "DEFAULT_MODEL",
    "DEFAULT_THROUGH",
    "DEFAULT_TOKEN_BUDGET",
    "MAX_TOOL_RESULT_CHARS",
    "ClaudeSession",
    "DriveResult",
    "StopReason",
    "ToolCall",
    "drive_round",
    "make_client",
]
