"""Typed results of the entry-mode tools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from dlpilot.findings import Finding, Severity
from dlpilot.tools.checks._models import OverfitResult


class EntryReport(BaseModel):
    """What the entry checks found, the overfit verdict and the statistics behind them."""

    model_config = ConfigDict(extra="forbid")

    project_dir: str
    config_source: str
    findings: list[Finding]
    overfit: OverfitResult | None = Field(description="None when skipped or not runnable")
    stats: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No error and no warning."""
        return all(f.severity == Severity.INFO for f in self.findings)


class LrRangeResult(BaseModel):
    """LR range test: the curve, the suggestion (steepest descent of the smoothed loss) and the
    min-loss / 10 heuristic."""

    model_config = ConfigDict(extra="forbid")

    lr_min: float
    lr_max: float
    steps: int
    batch_size: int
    lrs: list[float]
    losses: list[float | None]
    smoothed: list[float | None]
    beta: float = Field(description="EMA factor of the smoothed loss")
    diverge_factor: float
    stopped: Literal["diverged", "nonfinite"] | None = Field(
        description="why the ramp ended early, None when it ran to lr_max"
    )
    suggestion: float | None = Field(description="lr at the steepest descent of the smoothed loss")
    min_loss_lr: float | None
    min_loss_lr_div10: float | None = Field(description="the min-loss lr / 10 heuristic")
    state_restored: bool = Field(description="model and optimizer reset from their copies after")
    note: str | None = None


class BatchTrial(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int
    ok: bool
    step_s: float | None = None
    samples_per_s: float | None = None
    peak_memory_bytes: int | None = None
    error: str | None = None


class BatchSizeResult(BaseModel):
    """CUDA: the largest fitting batch and a recommendation with a safety margin. CPU: no OOM
    search (``note`` says why) and measured throughput instead."""

    model_config = ConfigDict(extra="forbid")

    device: Literal["cuda", "cpu"]
    device_name: str
    oom_search: bool
    note: str | None
    cap: int
    cap_reason: str
    trials: list[BatchTrial]
    max_fitting: int | None
    first_failing: int | None
    recommended: int | None = Field(
        description="CUDA: 0.9 x max_fitting, multiple of 8 above 8; the cap itself when it "
        "was reached without running out of memory and its peak leaves 10% of the memory free"
    )
    throughput_knee: int | None = Field(
        description="smallest batch reaching 90% of the best measured samples/s"
    )
    total_memory_bytes: int | None = None


class DeviceInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cuda: bool
    device_name: str
    torch: str
