"""Runtime sanity checks and the single-batch overfit test, driven through the sandbox.

:func:`check_script` runs a user's unmodified training script under the in-child probe
(``dlpilot.sandbox.probe``), bounded by shortened epochs, and turns what the probe saw into
findings with evidence; :func:`overfit_test` runs only the overfit test. This package never imports
torch: the child does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.tools._lazy import lazy_exports
from dlpilot.tools.checks._models import CheckReport, ChildRun, OverfitResult, UserException
from dlpilot.tools.checks.project import ProjectCheck

if TYPE_CHECKING:
    from dlpilot.tools.checks._command import Command, parse_command
    from dlpilot.tools.checks._envvars import parse_env_options
    from dlpilot.tools.checks._evidence import ProbeRun, read_events
    from dlpilot.tools.checks._overfit import (
        OverfitPlot,
        judge_curve,
        plot_data,
        plot_overfit,
        verdict,
    )
    from dlpilot.tools.checks._replay import RecordedRunner, RecordingRunner
    from dlpilot.tools.checks._run import (
        DEFAULT_EPOCHS,
        DEFAULT_MAX_STEPS,
        DEFAULT_TIMEOUT_S,
        DEFAULT_TRAIN_BATCHES,
        DEFAULT_VAL_BATCHES,
        check_script,
        overfit_test,
    )
    from dlpilot.tools.checks._text import overfit_line, render_check, render_entry
    from dlpilot.tools.checks.project import check_project
    from dlpilot.tools.checks.rules import RULES, Context, RuntimeCheck, judge_all

__getattr__ = lazy_exports(
    __name__,
    {
        "Command": "_command",
        "parse_command": "_command",
        "parse_env_options": "_envvars",
        "ProbeRun": "_evidence",
        "read_events": "_evidence",
        "OverfitPlot": "_overfit",
        "judge_curve": "_overfit",
        "plot_data": "_overfit",
        "plot_overfit": "_overfit",
        "verdict": "_overfit",
        "RecordedRunner": "_replay",
        "RecordingRunner": "_replay",
        "RULES": "rules",
        "Context": "rules",
        "RuntimeCheck": "rules",
        "judge_all": "rules",
        "DEFAULT_EPOCHS": "_run",
        "DEFAULT_MAX_STEPS": "_run",
        "DEFAULT_TIMEOUT_S": "_run",
        "DEFAULT_TRAIN_BATCHES": "_run",
        "DEFAULT_VAL_BATCHES": "_run",
        "check_script": "_run",
        "overfit_test": "_run",
        "overfit_line": "_text",
        "render_check": "_text",
        "render_entry": "_text",
        "check_project": "project",
    },
)

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_TRAIN_BATCHES",
    "DEFAULT_VAL_BATCHES",
    "RULES",
    "CheckReport",
    "ChildRun",
    "Command",
    "Context",
    "OverfitPlot",
    "OverfitResult",
    "ProbeRun",
    "ProjectCheck",
    "RecordedRunner",
    "RecordingRunner",
    "RuntimeCheck",
    "UserException",
    "check_project",
    "check_script",
    "judge_all",
    "judge_curve",
    "overfit_line",
    "overfit_test",
    "parse_command",
    "parse_env_options",
    "plot_data",
    "plot_overfit",
    "read_events",
    "render_check",
    "render_entry",
    "verdict",
]
