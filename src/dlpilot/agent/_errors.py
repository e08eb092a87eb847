"""The agent's errors, under the one tree of :mod:`dlpilot.errors`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.errors import DlpilotError

if TYPE_CHECKING:
    from dlpilot.agent._driver import DriveResult


class AgentError(DlpilotError):
    """The Claude driver could not go on (the API failed mid-round). The runbook keeps every
    answer given before the failure; ``result`` is the drive up to that point (usage included)."""

    def __init__(self, message: str, *, result: DriveResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class MissingApiKey(AgentError):
    """``--agent claude`` was asked for, but ``ANTHROPIC_API_KEY`` is not set."""


__all__ = ["AgentError", "MissingApiKey"]
