"""Where the LR range test's suggestion comes from (pure Python, testable without torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence

SKIP_BEGIN = 10
"""Points left out at the start: the EMA is still warming up there (Lightning's default)."""

SKIP_END = 1
"""Points left out at the end: the last one is the divergence that stopped the ramp."""


def usable(lrs: Sequence[float], smoothed: Sequence[float | None]) -> list[tuple[float, float]]:
    return [
        (lr, s)
        for lr, s in zip(lrs, smoothed, strict=False)
        if s is not None and math.isfinite(s) and lr > 0
    ]


def steepest(lrs: Sequence[float], smoothed: Sequence[float | None]) -> float | None:
    """The lr where the smoothed loss falls fastest per decade of lr (central differences),
    searched only up to the smoothed loss's minimum: past it the loss is rising, and a steep
    stretch there is the blow-up, not a rate to train at."""
    pts = usable(lrs, smoothed)
    window = pts[SKIP_BEGIN : len(pts) - SKIP_END]
    if window:
        lowest = min(range(len(window)), key=lambda i: window[i][1])
        window = window[: lowest + 1]
    if len(window) < 3:
        return None
    xs = [math.log10(lr) for lr, _ in window]
    ys = [s for _, s in window]
    slopes = []
    for i in range(len(window)):
        lo, hi = max(0, i - 1), min(len(window) - 1, i + 1)
        slopes.append((ys[hi] - ys[lo]) / (xs[hi] - xs[lo]))
    best = min(range(len(slopes)), key=slopes.__getitem__)
    if slopes[best] >= 0:
        return None
    return window[best][0]


def min_loss_lr(lrs: Sequence[float], smoothed: Sequence[float | None]) -> float | None:
    pts = usable(lrs, smoothed)
    pts = pts[: len(pts) - SKIP_END] if len(pts) > SKIP_END else pts
    if not pts:
        return None
    return min(pts, key=lambda p: p[1])[0]
