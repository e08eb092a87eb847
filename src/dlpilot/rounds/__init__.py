"""``dlpilot round``: the driver that walks a round of the runbook headless.

It runs what the runbook never runs (the check of the script, a baseline run, the trials) through
one :class:`Launcher` (:class:`ProcessLauncher` for real, :class:`FakeLauncher` for tests and
``--dry-run``), answers the steps with an :class:`Agent` (the rules, or the Claude driver of
``dlpilot.agent`` through its ``claude_agent()`` hook), and writes ``report.md`` and
``summary.json``.
"""

from __future__ import annotations

from dlpilot.rounds._cli import add_parsers, round_command, runbook_command
from dlpilot.rounds._drive import Agent, RoundOutcome, RulesAgent, build_agent, walk_round
from dlpilot.rounds._launcher import FakeLauncher, Launcher, ProcessLauncher
from dlpilot.rounds._report import RoundSummary, write_outputs

__all__ = [
    "Agent",
    "FakeLauncher",
    "Launcher",
    "ProcessLauncher",
    "RoundOutcome",
    "RoundSummary",
    "RulesAgent",
    "add_parsers",
    "build_agent",
    "round_command",
    "runbook_command",
    "walk_round",
    "write_outputs",
]
