"""Runtime sanity checks and the single-batch overfit test, driven through the sandbox.

:func:`check_script` runs a user's unmodified training script under the in-child probe
(``dlpilot.sandbox.probe``), bounded by shortened epochs, and turns what the probe saw into
findings with evidence; :func:`overfit_test` runs only the overfit test. This package never imports
torch: the child does.
"""

from __future__ import annotations

from ._evidence import ProbeRun, read_events
from ._models import CheckReport, ChildRun, OverfitResult, UserException
from ._overfit import OverfitPlot, plot_data, plot_overfit, verdict
from ._rules import RULES, Context, RuntimeCheck, judge_all
from ._run import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_STEPS,
    DEFAULT_TIMEOUT_S,
    DEFAULT_TRAIN_BATCHES,
    DEFAULT_VAL_BATCHES,
    check_script,
    overfit_test,
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
    "Context",
    "OverfitPlot",
    "OverfitResult",
    "ProbeRun",
    "RuntimeCheck",
    "UserException",
    "check_script",
    "judge_all",
    "overfit_test",
    "plot_data",
    "plot_overfit",
    "read_events",
    "verdict",
]
