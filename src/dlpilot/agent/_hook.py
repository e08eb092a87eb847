"""The Claude driver as the ``Agent`` that ``dlpilot round`` asks for each step.

``dlpilot round`` walks a round step by step and runs what the runbook cannot (the check, the
baseline run, the trials) between steps; it asks its agent to answer one step at a time through
``answer_step(runbook, step, *, trials_cap)``, which raises :class:`RunbookError` when the step
was not answered (the round stops there, with the reason). :func:`claude_agent` is the hook it
calls. All steps of a round are one conversation, so the model keeps what it read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from dlpilot.agent._driver import ClaudeSession, DriveResult
from dlpilot.runbook import Runbook, RunbookError

if TYPE_CHECKING:
    from collections.abc import Callable


class ClaudeAgent:
    """Answers the runbook's steps with Claude (one :class:`ClaudeSession` per project).
    ``options`` are :class:`ClaudeSession`'s keyword arguments (client, model, max_turns,
    max_tokens, token_budget, env, progress)."""

    name = "claude"

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.session: ClaudeSession | None = None

    def answer_step(self, runbook: Runbook, step: int, *, trials_cap: int | None = None) -> None:
        session = self.session
        if session is None or session.runbook.project != runbook.project:
            session = self.session = ClaudeSession(runbook.project, **self.options)
        session.trials_cap = trials_cap
        result = session.walk(step)
        if not result.done:
            raise RunbookError(f"step {step}: Claude did not answer it: {result.message}")

    @property
    def result(self) -> DriveResult | None:
        """The drive so far: steps answered, tool calls, usage and cost."""
        return self.session.result if self.session is not None else None

    def summary(self) -> dict[str, JsonValue] | None:
        """For ``summary.json``: model, turns, usage and the cost estimate (None before a step)."""
        return self.result.summary() if self.result is not None else None


def claude_agent(*, progress: Callable[[str], None] | None = None, **options: Any) -> ClaudeAgent:
    """The hook of ``dlpilot round --agent claude|auto``: a :class:`ClaudeAgent` with the
    defaults (the key from ``ANTHROPIC_API_KEY``, :data:`DEFAULT_MODEL`)."""
    return ClaudeAgent(progress=progress, **options)


__all__ = ["ClaudeAgent", "claude_agent"]
