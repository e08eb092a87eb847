"""Static rules on project setup: data splits and loaders, seeds, checkpoints, validation, schedule,
clipping, tracking and machine-specific paths. All of them share one walk per file."""

from __future__ import annotations

from dlpilot.tools.inspect._base import Rule
from dlpilot.tools.inspect.code.setup._augflags import AugmentFlagRule
from dlpilot.tools.inspect.code.setup._datasets import LabelsMisalignedRule
from dlpilot.tools.inspect.code.setup._factories import FactoryShuffleRule
from dlpilot.tools.inspect.code.setup._rules import (
    AugmentOnEvalRule,
    CheckpointRule,
    GradClipRule,
    HardcodedPathRule,
    HeldOutDataRule,
    LrScheduleRule,
    NormStatsLeakRule,
    SeedRule,
    SplitOverlapRule,
    TrackingRule,
    TrainShuffleRule,
    ValidationRule,
    WorkerSeedRule,
)

RULES: list[type[Rule]] = [
    TrainShuffleRule,
    SplitOverlapRule,
    AugmentOnEvalRule,
    NormStatsLeakRule,
    WorkerSeedRule,
    HeldOutDataRule,
    SeedRule,
    CheckpointRule,
    ValidationRule,
    LrScheduleRule,
    GradClipRule,
    TrackingRule,
    HardcodedPathRule,
    AugmentFlagRule,
    LabelsMisalignedRule,
    FactoryShuffleRule,
]
__all__ = ["RULES"]
