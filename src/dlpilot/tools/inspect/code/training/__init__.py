"""Static rules on the training loop: gradients cleared and stepped, train / eval mode, grad
mode in validation, what is fed to the loss, and mixed precision.

All rules share one index per file (``_index``), built by a single walk of the tree and only for
files whose text mentions something these rules look at.
"""

from __future__ import annotations

from dlpilot.tools.inspect._base import Rule
from dlpilot.tools.inspect.code.training._amp import AmpScalerRule
from dlpilot.tools.inspect.code.training._layers import (
    DropoutAlwaysOnRule,
    PaddingIgnoredRule,
    SoftmaxDimRule,
)
from dlpilot.tools.inspect.code.training._loop import LossGraphRule, StepMissingRule, ZeroGradRule
from dlpilot.tools.inspect.code.training._loss import LossInputRule
from dlpilot.tools.inspect.code.training._mode import ModeRule
from dlpilot.tools.inspect.code.training._order import (
    ClipOrderRule,
    StepDuringEvalRule,
    StepPerEpochRule,
)
from dlpilot.tools.inspect.code.training._preprocess import (
    EvalOnTrainDataRule,
    PreprocessMismatchRule,
)
from dlpilot.tools.inspect.code.training._sched import ScheduleMismatchRule
from dlpilot.tools.inspect.code.training._select import SelectOnTrainMetricRule
from dlpilot.tools.inspect.code.training._style import ForwardCallRule, ModeCallParensRule

RULES: list[type[Rule]] = [
    ZeroGradRule,
    StepMissingRule,
    LossGraphRule,
    ModeCallParensRule,
    ForwardCallRule,
    ModeRule,
    LossInputRule,
    AmpScalerRule,
    ClipOrderRule,
    StepPerEpochRule,
    StepDuringEvalRule,
    ScheduleMismatchRule,
    DropoutAlwaysOnRule,
    SoftmaxDimRule,
    PaddingIgnoredRule,
    SelectOnTrainMetricRule,
    PreprocessMismatchRule,
    EvalOnTrainDataRule,
]

__all__ = [
    "RULES",
    "AmpScalerRule",
    "ClipOrderRule",
    "DropoutAlwaysOnRule",
    "EvalOnTrainDataRule",
    "ForwardCallRule",
    "LossGraphRule",
    "LossInputRule",
    "ModeCallParensRule",
    "ModeRule",
    "PaddingIgnoredRule",
    "PreprocessMismatchRule",
    "ScheduleMismatchRule",
    "SelectOnTrainMetricRule",
    "SoftmaxDimRule",
    "StepDuringEvalRule",
    "StepMissingRule",
    "StepPerEpochRule",
    "ZeroGradRule",
]
