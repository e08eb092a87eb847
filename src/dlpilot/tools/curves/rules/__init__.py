"""The curve rules: each reads one run's series and returns findings (how = "curve").

Every rule documents its thresholds as named constants next to it. Where ``shared/checks.md``
gives a published threshold it is used as is; the guards added around it (minimum points,
smoothing, noise margins) are what keeps a rule quiet on noisy but healthy curves, and each says
why. Every finding's evidence carries the run, the metric, the rule's name, its thresholds and the
values that crossed them, so a reader can check the call. Every rule declares the ids it may
report (``@reports``, the contract of ``dlpilot.tools._contract``), which ``_diagnose`` enforces.

Conventions: a rule never speaks on fewer points than its ``*_MIN_POINTS``; trend tests run on
the rolling-median smoothed curve (``_signal.smooth``) and compare medians of blocks of points,
never single points; non-finite values are dropped before trend tests (``loss.nonfinite`` and
``curve.diverged`` report them).

Modules: ``_common`` (what the rules share), ``_loss`` (loss values), ``_stability`` (blow-ups
and rising losses), ``_fit`` (training against validation or chance), ``_length`` (where the best
point lies), ``_unstable`` (noisy or spiking late training) and ``_bias`` (stuck at the class
prior); ``dlpilot.tools.curves._diagnose`` runs them all.
"""

from __future__ import annotations

from dlpilot.tools.curves.rules._bias import prior_entropies, rule_class_prior
from dlpilot.tools.curves.rules._common import (
    LATE_FRACTION,
    Curve,
    RunRule,
    loss_series,
    main_loss,
    pick,
)
from dlpilot.tools.curves.rules._fit import (
    rule_chance_level,
    rule_overfitting,
    rule_val_better_than_train,
)
from dlpilot.tools.curves.rules._length import best_position, goal_series, rule_training_length
from dlpilot.tools.curves.rules._loss import (
    cannot_be_negative,
    rule_loss_negative,
    rule_loss_nonfinite,
)
from dlpilot.tools.curves.rules._stability import (
    rule_diverged,
    rule_lr_too_high,
    rule_train_loss_increasing,
)
from dlpilot.tools.curves.rules._unstable import rule_unstable

RUN_RULES: tuple[RunRule, ...] = (
    rule_loss_nonfinite,
    rule_loss_negative,
    rule_diverged,
    rule_lr_too_high,
    rule_train_loss_increasing,
    rule_overfitting,
    rule_val_better_than_train,
    rule_chance_level,
)
"""The rules of one run that need nothing but the run, in the order ``_diagnose`` runs them."""

__all__ = [
    "LATE_FRACTION",
    "RUN_RULES",
    "Curve",
    "best_position",
    "cannot_be_negative",
    "goal_series",
    "loss_series",
    "main_loss",
    "pick",
    "prior_entropies",
    "rule_chance_level",
    "rule_class_prior",
    "rule_diverged",
    "rule_loss_negative",
    "rule_loss_nonfinite",
    "rule_lr_too_high",
    "rule_overfitting",
    "rule_train_loss_increasing",
    "rule_training_length",
    "rule_unstable",
    "rule_val_better_than_train",
]
