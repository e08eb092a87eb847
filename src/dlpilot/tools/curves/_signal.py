"""Small numeric helpers shared by the curve rules, summaries and plots: pure numpy, no I/O.

Everything here takes plain arrays and never mutates them. Smoothing uses a centred rolling
median because training losses are noisy *and* spiky: a median follows the trend without being
dragged by single bad batches, which an EMA is. The window grows with the series length
(:data:`SMOOTH_FRACTION`), so a curve of 50 points and one of 50,000 are smoothed alike.
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

from dlpilot.tools.curves._results import Goal

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Rolling-median window as a fraction of the series length (5%: wide enough to average out
# minibatch noise on per-step logs, narrow enough to keep an epoch-level bend in a 20-point curve).
SMOOTH_FRACTION = 0.05
# The smallest window that smooths at all; shorter series are used as they are.
SMOOTH_MIN_WINDOW = 3
# Median absolute deviation -> standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826

_MIN_WORDS = (
    "loss",
    "error",
    "err",
    "wer",
    "cer",
    "perplexity",
    "ppl",
    "mse",
    "mae",
    "rmse",
    "nll",
    "bpd",
    "bpc",
    "distance",
    "time",
)
_MAX_WORDS = (
    "acc",
    "accuracy",
    "f1",
    "auc",
    "auroc",
    "precision",
    "recall",
    "bleu",
    "rouge",
    "map",
    "iou",
    "miou",
    "dice",
    "r2",
    "score",
    "top1",
    "top5",
    "reward",
    "return",
)


def split_name(name: str) -> tuple[str | None, str]:
    """``"val/loss"`` -> ``("val", "loss")``; a name without a split prefix -> ``(None, name)``."""
    if "/" in name:
        split, _, quantity = name.partition("/")
        return split, quantity
    return None, name


def words(name: str) -> list[str]:
    """Lower-case word tokens of a name: ``"val/top1_acc"`` -> ``["val", "top1", "acc"]``."""
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def infer_goal(name: str) -> Goal | None:
    """Whether smaller or larger is better for a metric, from its name; None when unknown."""
    toks = words(split_name(name)[1])
    if not toks or toks == ["lr"] or "lr" in toks or "learning" in toks:
        return None
    if any(t in _MIN_WORDS for t in toks):
        return "min"
    if any(t in _MAX_WORDS for t in toks):
        return "max"
    return None


def is_loss(name: str) -> bool:
    return "loss" in words(split_name(name)[1])


def smooth_window(n: int, fraction: float = SMOOTH_FRACTION) -> int:
    """An odd window of about ``fraction * n`` points, at least :data:`SMOOTH_MIN_WINDOW`."""
    w = max(SMOOTH_MIN_WINDOW, round(n * fraction))
    return w if w % 2 == 1 else w + 1


# Above this many window cells (points x window) the rolling median works on block medians.
_ROLLING_CELLS_MAX = 2_000_000
# Points per block in the block-median approximation, as a fraction of the window.
_BLOCKS_PER_WINDOW = 9


def rolling_median(values: FloatArray, window: int) -> FloatArray:
    """Centred rolling median; the window shrinks at the ends. Expects finite values.

    Long series with long windows are first reduced to medians of short blocks (a ninth of the
    window each), smoothed with a 9-block rolling median and interpolated back, which keeps the
    memory bounded for millions of points and differs from the exact median only by block size.
    """
    n = values.shape[0]
    if window <= 1 or n < 3:
        return values.astype(np.float64, copy=True)
    half = window // 2
    if n * window > _ROLLING_CELLS_MAX:
        block = max(1, window // _BLOCKS_PER_WINDOW)
        nb = -(-n // block)
        padded = np.concatenate([values.astype(np.float64), np.full(nb * block - n, np.nan)])
        blocks = np.nanmedian(padded.reshape(nb, block), axis=1)
        centres = np.minimum(np.arange(nb) * block + (block - 1) / 2.0, n - 1)
        reduced = rolling_median(blocks, _BLOCKS_PER_WINDOW)
        approx: FloatArray = np.interp(np.arange(n, dtype=np.float64), centres, reduced)
        return approx
    if n > 2 * half:
        padded = np.concatenate(
            [np.full(half, np.nan), values.astype(np.float64), np.full(half, np.nan)]
        )
        view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        out: FloatArray = np.nanmedian(view, axis=1)
        return out
    return np.array(
        [float(np.median(values[max(0, i - half) : i + half + 1])) for i in range(n)],
        dtype=np.float64,
    )


def smooth(values: FloatArray, fraction: float = SMOOTH_FRACTION) -> FloatArray:
    """Rolling median over a window proportional to the length (see the module docstring)."""
    return rolling_median(values, smooth_window(values.shape[0], fraction))


def robust_sigma(x: FloatArray) -> float:
    """Standard deviation estimated from the median absolute deviation (ignores outliers)."""
    if x.shape[0] == 0:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.abs(x - np.median(x))))


def step_noise(values: FloatArray) -> float:
    """Robust point-to-point noise: sigma of second differences divided by sqrt(6).

    For white noise this is its sigma, as the first differences divided by sqrt(2) are; unlike
    them it does not count a steady trend as noise, which matters on short curves (ten epoch
    points falling 0.47 -> 0.025 have first differences of 0.17 ... 0.01, all trend). Three
    points or fewer have no noise estimate (0)."""
    if values.shape[0] < 4:
        return 0.0
    return robust_sigma(np.diff(values, 2)) / math.sqrt(6.0)


def block_means(values: FloatArray, block: int) -> tuple[FloatArray, float]:
    """Means of consecutive blocks of ``block`` points (a partial last block is dropped) and the
    standard deviation a block mean would have from point-to-point noise alone: the pooled
    within-block standard deviation over sqrt(block). The points' own spread is used, not a
    robust one, because a block mean is pulled by every point: heavy-tailed minibatch losses
    (batches of 4: most near 0, a few far up) make noisy block means, and that is batch noise."""
    nb = values.shape[0] // block
    if nb == 0 or block < 2:
        return values.astype(np.float64, copy=True), 0.0
    blocks = values[: nb * block].reshape(nb, block)
    sigma = math.sqrt(float(np.mean(np.var(blocks, axis=1, ddof=1))))
    means: FloatArray = blocks.mean(axis=1)
    return means, sigma / math.sqrt(block)


def finite(steps: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray]:
    mask = np.isfinite(values)
    return steps[mask], values[mask]


def position(step: float, first: float, last: float) -> float:
    """Where ``step`` lies between ``first`` and ``last`` as a fraction in [0, 1]."""
    if last <= first:
        return 1.0
    return float(min(1.0, max(0.0, (step - first) / (last - first))))


def json_float(x: float) -> float | str:
    """A float for JSON evidence: NaN and infinities become the strings "nan", "inf", "-inf"."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def minmax_indices(values: FloatArray, budget: int) -> npt.NDArray[np.intp]:
    """Indices of a min/max bucket downsampling that keeps at most ``budget`` points.

    The finite points are cut into ``budget // 2`` buckets of consecutive indices and each bucket
    keeps its minimum and its maximum, in index order, so spikes and dips survive (an average
    would hide them). The first and last points are always kept. Non-finite values are skipped
    here; callers mark them separately.
    """
    idx = np.flatnonzero(np.isfinite(values))
    if budget < 2:
        raise ValueError(f"downsampling budget must be at least 2, got {budget}")
    if idx.shape[0] <= budget:
        return idx
    inner = idx[1:-1]
    buckets = max(1, (budget - 2) // 2)
    keep: list[int] = [int(idx[0])]
    for chunk in np.array_split(inner, buckets):
        if chunk.shape[0] == 0:
            continue
        v = values[chunk]
        a, b = int(chunk[int(np.argmin(v))]), int(chunk[int(np.argmax(v))])
        keep.extend(sorted({a, b}))
    keep.append(int(idx[-1]))
    return np.array(sorted(set(keep)), dtype=np.intp)


__all__ = [
    "FloatArray",
    "Goal",
    "IntArray",
    "block_means",
    "finite",
    "infer_goal",
    "is_loss",
    "json_float",
    "minmax_indices",
    "position",
    "robust_sigma",
    "rolling_median",
    "smooth",
    "smooth_window",
    "split_name",
    "step_noise",
    "words",
]
