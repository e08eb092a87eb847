"""The entry-mode tools: checks, LR range test, batch-size finder (children do the work)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dlpilot.errors import InvalidArgument
from dlpilot.findings import merge_findings
from dlpilot.tools._contract import only_declared
from dlpilot.tools.checks._models import OverfitResult
from dlpilot.tools.checks._overfit import DEFAULT_OVERFIT_STEPS, judge_curve
from dlpilot.tools.checks.rules._entry import ENTRY_CHECKS
from dlpilot.tools.control import Control

from . import _lrmath
from ._child import (
    BATCH_SIZE_TIMEOUT_S,
    CHECKS_TIMEOUT_S,
    DEVICE_TIMEOUT_S,
    LR_RANGE_TIMEOUT_S,
    run_entry_child,
)
from ._config import EntryConfig, load_entry_config
from ._results import BatchSizeResult, DeviceInfo, EntryReport, LrRangeResult

MAX_OVERFIT_STEPS = 5000
"""Largest accepted budget: beyond it the test only burns time."""

DEFAULT_MAX_BATCH_SIZE = 4096
"""Batch-size finder's upper bound when the caller gives none: past it few models gain."""

MAX_LR_STEPS = 2000
"""Largest accepted LR range test length."""


def _config_payload(config: EntryConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def run_entry_checks(
    project_dir: str | Path,
    *,
    overfit: bool = True,
    overfit_steps: int = DEFAULT_OVERFIT_STEPS,
    control: Control | None = None,
    timeout_s: float = CHECKS_TIMEOUT_S,
) -> EntryReport:
    """Build the project's parts from its ``[tool.dlpilot]`` factories in a child and check them:
    labels against the output size and the loss, the initial loss against ln C, input
    statistics, train/val overlap, loss/output compatibility and (unless ``overfit=False``) the
    single-batch overfit test. Findings are merged; the overfit curve comes with the report."""
    if isinstance(overfit_steps, bool) or not isinstance(overfit_steps, int):
        raise InvalidArgument(f"overfit_steps must be an int, got {overfit_steps!r}")
    if not 1 <= overfit_steps <= MAX_OVERFIT_STEPS:
        raise InvalidArgument(
            f"overfit_steps must be in 1..{MAX_OVERFIT_STEPS}, got {overfit_steps}"
        )
    config = load_entry_config(project_dir)
    data = run_entry_child(
        "checks",
        what=f"entry checks of {config.project_dir}",
        project_dir=config.project_dir,
        config=_config_payload(config),
        params={"overfit": bool(overfit), "overfit_steps": overfit_steps},
        control=control,
        timeout_s=timeout_s,
    )
    curve = data.get("overfit")
    measured = data.get("measured") or {}
    found = list(only_declared(ENTRY_CHECKS, ENTRY_CHECKS.judge(measured, curve)))
    result = _judge_overfit(curve, overfit_steps) if curve else None
    if result is not None and result.finding is not None:
        found.extend(only_declared(judge_curve, [result.finding]))
    return EntryReport(
        project_dir=str(config.project_dir),
        config_source=str(config.source),
        findings=merge_findings(found),
        overfit=result,
        stats=data.get("stats") or {},
    )


def _judge_overfit(curve: dict[str, Any], budget: int) -> OverfitResult:
    """The child's overfit curve judged by the rule script mode uses. The child always computes
    a loss, so a None in its curve is a non-finite loss (strict JSON has no NaN)."""
    losses: list[float | None] = [math.nan if v is None else float(v) for v in curve["losses"]]
    accuracies = curve.get("accuracies")
    result = judge_curve(losses, accuracies, budget=budget)
    return result.model_copy(
        update={
            k: curve.get(k)
            for k in ("batch_size", "lr", "dropout_modules_disabled", "weight_decay_groups_zeroed")
        }
    )


def lr_range_test(
    project_dir: str | Path,
    *,
    lr_min: float = 1e-7,
    lr_max: float = 10.0,
    steps: int = 100,
    control: Control | None = None,
    timeout_s: float = LR_RANGE_TIMEOUT_S,
) -> LrRangeResult:
    """Exponential LR ramp from ``lr_min`` to ``lr_max`` over ``steps`` training steps; the
    suggestion is the steepest descent of the smoothed loss, ``min_loss_lr_div10`` the second
    common heuristic. The model and optimizer are reset from copies after the ramp."""
    for name, value in (("lr_min", lr_min), ("lr_max", lr_max)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise InvalidArgument(f"{name} must be a positive number, got {value!r}")
        if not math.isfinite(value):
            raise InvalidArgument(f"{name} must be finite, got {value!r}")
    if lr_max <= lr_min:
        raise InvalidArgument(f"lr_max ({lr_max!r}) must be larger than lr_min ({lr_min!r})")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 5 <= steps <= MAX_LR_STEPS:
        raise InvalidArgument(f"steps must be an int in 5..{MAX_LR_STEPS}, got {steps!r}")
    config = load_entry_config(project_dir)
    data = run_entry_child(
        "lr_range",
        what=f"LR range test of {config.project_dir}",
        project_dir=config.project_dir,
        config=_config_payload(config),
        params={"lr_min": float(lr_min), "lr_max": float(lr_max), "steps": steps},
        control=control,
        timeout_s=timeout_s,
    )
    lrs, smoothed = data["lrs"], data["smoothed"]
    suggestion = _lrmath.steepest(lrs, smoothed)
    best = _lrmath.min_loss_lr(lrs, smoothed)
    note = None
    if suggestion is None:
        note = (
            f"no descent found in {len(lrs)} points (the first {_lrmath.SKIP_BEGIN} are skipped "
            "while the smoothing warms up): widen the lr range or add steps"
        )
    return LrRangeResult(
        lr_min=float(lr_min),
        lr_max=float(lr_max),
        steps=steps,
        batch_size=int(data["batch_size"]),
        lrs=lrs,
        losses=data["losses"],
        smoothed=smoothed,
        beta=float(data["beta"]),
        diverge_factor=float(data["diverge_factor"]),
        stopped=data.get("stopped"),
        suggestion=suggestion,
        min_loss_lr=best,
        min_loss_lr_div10=None if best is None else best / 10,
        state_restored=bool(data["state_restored"]),
        note=note,
    )


def find_batch_size(
    project_dir: str | Path,
    *,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    device: str = "auto",
    control: Control | None = None,
    timeout_s: float = BATCH_SIZE_TIMEOUT_S,
) -> BatchSizeResult:
    """CUDA: double the batch until out of memory (or ``max_batch_size`` / the dataset size),
    binary-search between the last fit and the first failure, recommend 0.9x of the fit (a
    multiple of 8 above 8). CPU: no OOM search (there is no device memory to fill); measured
    samples/s for a few sizes and the size where throughput stops scaling."""
    if (
        isinstance(max_batch_size, bool)
        or not isinstance(max_batch_size, int)
        or max_batch_size < 1
    ):
        raise InvalidArgument(f"max_batch_size must be a positive int, got {max_batch_size!r}")
    if device not in ("auto", "cuda", "cpu"):
        raise InvalidArgument(f"device must be 'auto', 'cuda' or 'cpu', got {device!r}")
    config = load_entry_config(project_dir)
    data = run_entry_child(
        "batch_size",
        what=f"batch-size finder on {config.project_dir}",
        project_dir=config.project_dir,
        config=_config_payload(config),
        params={"max_batch_size": max_batch_size, "device": device},
        control=control,
        timeout_s=timeout_s,
    )
    return BatchSizeResult.model_validate(data)


def probe_device(*, control: Control | None = None) -> DeviceInfo:
    """Ask a child whether torch sees a CUDA device (the parent never imports torch)."""
    data = run_entry_child(
        "device",
        what="device query",
        project_dir=Path.cwd(),
        config=None,
        params={},
        control=control,
        timeout_s=DEVICE_TIMEOUT_S,
    )
    return DeviceInfo.model_validate(data)
