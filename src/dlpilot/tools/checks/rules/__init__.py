"""The runtime rules: the probe's evidence in, findings out, one module per catalogue section.

Each rule is a small :class:`RuntimeCheck` with the ids it may report (the contract of
``dlpilot.tools._contract``, which :func:`judge_all` enforces) and a ``judge`` method: a pure
function of a :class:`~dlpilot.tools.checks.ProbeRun`. The thresholds are named constants next to
the rule that uses them; where ``shared/checks.md`` publishes one (in brackets there) it is used as
published, otherwise the chosen value and its reason are written beside it. The probe records raw
statistics; every decision is made here, so these rules are tested on hand-written evidence, on
recorded summaries of real runs and on real runs.

``_context`` holds what the rules share; ``_loop``, ``_mode``, ``_loss``, ``_gradients``,
``_activations``, ``_schedule``, ``_data`` and ``_amp`` the rules of one section each; ``_judge``
the ordered list and the cross-finding notes.
"""

from __future__ import annotations

from dlpilot.tools.checks.rules._alignment import judge_misaligned
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck
from dlpilot.tools.checks.rules._judge import CAUSES, ENGINE_RULES, RULES, judge_all

__all__ = [
    "CAUSES",
    "ENGINE_RULES",
    "RULES",
    "Context",
    "RuntimeCheck",
    "judge_all",
    "judge_misaligned",
]
