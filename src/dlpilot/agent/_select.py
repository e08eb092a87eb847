"""Which agent walks a round: the deterministic rules or Claude, and the API key Claude needs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from dlpilot.agent._errors import MissingApiKey
from dlpilot.errors import InvalidArgument

API_KEY_ENV = "ANTHROPIC_API_KEY"
AGENTS = ("rules", "claude", "auto")

Agent = Literal["rules", "claude"]


def choose_agent(requested: str, env: Mapping[str, str] | None = None) -> tuple[Agent, str]:
    """The agent for ``--agent requested`` and why: ``rules`` as asked; ``claude`` as asked, when
    ``ANTHROPIC_API_KEY`` is set (:class:`MissingApiKey` otherwise); ``auto``: Claude with a key,
    the rules without one."""
    env = os.environ if env is None else env
    has_key = bool(env.get(API_KEY_ENV, "").strip())
    if requested == "rules":
        return "rules", "--agent rules: the deterministic rules answer every step"
    if requested == "claude":
        require_api_key(env)
        return "claude", f"--agent claude: Claude answers, with the key from {API_KEY_ENV}"
    if requested == "auto":
        if has_key:
            return "claude", f"--agent auto: {API_KEY_ENV} is set, so Claude answers"
        return "rules", f"--agent auto: {API_KEY_ENV} is not set, so the deterministic rules answer"
    raise InvalidArgument(f"--agent {requested!r}: choose one of {', '.join(AGENTS)}")


def require_api_key(env: Mapping[str, str] | None = None) -> str:
    """The Anthropic API key from ``env`` (default ``os.environ``), or :class:`MissingApiKey`."""
    env = os.environ if env is None else env
    key = env.get(API_KEY_ENV, "").strip()
    if not key:
        raise MissingApiKey(
            f"--agent claude needs an Anthropic API key: {API_KEY_ENV} is not set. Set it, or use "
            "--agent rules (no model), or --agent auto (Claude when the key is set)"
        )
    return key


__all__ = ["AGENTS", "API_KEY_ENV", "Agent", "choose_agent", "require_api_key"]
