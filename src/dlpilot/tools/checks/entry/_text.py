"""The entry-point tools' results as text, for the terminal and beside the MCP results."""

from __future__ import annotations

from dlpilot.tools.checks.entry._results import BatchSizeResult, LrRangeResult


def render_lr_range(result: LrRangeResult) -> str:
    """The LR range test: its span, why it stopped, the suggestion, the minimum's lr / 10."""
    lines = [
        f"LR range test over {len(result.lrs)} steps ({result.lr_min:g} .. {result.lr_max:g})"
        + (f", stopped: {result.stopped}" if result.stopped else ""),
        f"  suggestion (steepest descent): {result.suggestion}",
        f"  lr at the loss minimum / 10:   "
        f"{result.min_loss_lr / 10 if result.min_loss_lr else None}",
    ]
    if result.note:
        lines.append(f"  note: {result.note}")
    return "\n".join(lines) + "\n"


def render_batch_size(result: BatchSizeResult) -> str:
    """The batch-size finder: one line per batch size tried, then the recommendation."""
    lines = [f"batch-size finder on {result.device} ({result.device_name})"]
    if result.note:
        lines.append(f"  note: {result.note}")
    for t in result.trials:
        speed = f"{t.samples_per_s:.0f} samples/s" if t.samples_per_s else (t.error or "")
        peak = f", peak {t.peak_memory_bytes / 2**30:.2f} GiB" if t.peak_memory_bytes else ""
        lines.append(f"  batch {t.batch_size:>6}: {'fits' if t.ok else 'fails'}  {speed}{peak}")
    lines.append(
        f"  recommended: {result.recommended}  (throughput knee: {result.throughput_knee})"
    )
    return "\n".join(lines) + "\n"


__all__ = ["render_batch_size", "render_lr_range"]
