from __future__ import annotations

import pytest

from dlpilot.agent import MissingApiKey, choose_agent
from dlpilot.errors import DlpilotError, InvalidArgument

KEY = {"ANTHROPIC_API_KEY": "sk-ant-test"}


def test_rules_are_chosen_when_asked_for_with_or_without_a_key():
    assert choose_agent("rules", {})[0] == "rules"
    assert choose_agent("rules", KEY)[0] == "rules"


def test_claude_is_chosen_when_asked_for_and_the_key_is_set():
    agent, why = choose_agent("claude", KEY)
    assert agent == "claude" and "ANTHROPIC_API_KEY" in why


@pytest.mark.parametrize("env", [{}, {"ANTHROPIC_API_KEY": "  "}])
def test_claude_without_a_key_is_a_clear_dlpilot_error(env):
    with pytest.raises(MissingApiKey, match="ANTHROPIC_API_KEY is not set") as info:
        choose_agent("claude", env)
    assert isinstance(info.value, DlpilotError)  # the CLI maps it to exit 2
    assert "--agent rules" in str(info.value)


def test_auto_uses_claude_with_a_key_and_the_rules_without_and_says_which():
    agent, why = choose_agent("auto", KEY)
    assert agent == "claude" and "is set" in why
    agent, why = choose_agent("auto", {})
    assert agent == "rules" and "not set" in why


def test_auto_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert choose_agent("auto")[0] == "rules"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert choose_agent("auto")[0] == "claude"


def test_an_unknown_agent_is_refused_naming_the_choices():
    with pytest.raises(InvalidArgument, match=r"--agent 'gpt': choose one of rules, claude, auto"):
        choose_agent("gpt", {})
