"""curve.unstable: late spikes or late step-to-step variance of a loss, told apart from the
noise of minibatches (per-step losses) and of a few confident misses (held-out losses).

Thresholds are named next to the comment that explains them; evidence carries them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    FloatArray,
    block_means,
    smooth_window,
    split_name,
    step_noise,
)
from dlpilot.tools.curves.rules._common import (
    LATE_FRACTION,
    Curve,
    ev_step,
    loss_series,
    rnd,
    rule_detail,
)

# --------------------------------------------------------------------------------------------
# curve.unstable — high step-to-step variance or spikes late in training (the last
# LATE_FRACTION of the points) of any loss with at least UNSTABLE_MIN_POINTS points.
# A spike is a late point at least SPIKE_FACTOR x the local smoothed level, SPIKE_Z robust sigmas
# above it and at least SPIKE_RANGE_FRACTION of the curve's smoothed range high (the last guard
# ignores a loss of 0.004 among 0.001s at the end of a curve that came down from 2.3); at least
# MIN_SPIKES of them are needed, because one hard example in one small (often the last, partial)
# batch makes a single such point in healthy runs (seen in the real-run tests).
# High variance: the robust step-to-step noise of the late points is at least UNSTABLE_CV of
# their median level and at least NOISE_RANGE_FRACTION of the smoothed range. No published
# threshold exists; these were set so that minibatch noise of healthy runs stays below them.
# A held-out loss (val, test, train-dev) is measured on a fixed set, so it has no minibatch
# noise: it moves only as the model does. Its bar is HELDOUT_CV from HELDOUT_MIN_POINTS points
# (per-epoch logs), over at least HELDOUT_MIN_LATE late points. On real per-epoch runs a healthy
# validation loss moved 0.2-1.2% of its level from epoch to epoch late in training, an unstable
# one (SGD lr 0.2, momentum 0.95) 14%.

UNSTABLE_MIN_POINTS = 20
SPIKE_FACTOR = 2.0
SPIKE_Z = 6.0
SPIKE_RANGE_FRACTION = 0.25
UNSTABLE_CV = 0.5
MIN_SPIKES = 2
NOISE_RANGE_FRACTION = 0.10
HELDOUT_CV = 0.10
HELDOUT_MIN_POINTS = 10
HELDOUT_MIN_LATE = 6
# A training loss logged every step is a sample of minibatch losses, and with small batches that
# sample is heavy-tailed (batches of 4 on a fitted model: most losses near 0, one in a few dozen
# at 1-5; the late mean several times the median), so single points and their step-to-step
# differences say nothing about the model. Such a series (at least BATCH_BLOCK_MIN x
# BATCH_MIN_BLOCKS points) is judged the way an epoch log would show it:
# - its variance on means of blocks of BATCH_BLOCK_MIN points or the smoothing window
#   (whichever is longer): the late block means' step-to-step noise must be at least
#   BATCH_BLOCK_CV of their level and BATCH_NOISE_EXCESS x the noise the batches alone give a
#   block mean (pooled within-block sigma / sqrt(block)); healthy batch-4 runs measured
#   0.9-1.1x, 2.0x at most at a 3x higher lr;
# - late spikes count only when they come SPIKE_RATE_EXCESS x as often as spike-like points
#   (as high above the local level, without the robust-sigma test) came between
#   SPIKE_REFERENCE_START (the first steps are the fall from initialization) and the late window:
#   the run's own batch noise shows how often its tail reaches that far.
# A held-out cross-entropy of a nearly separable problem swings from epoch to epoch with the
# confidence on a handful of misclassified points (0.03 <-> 0.06 at 98% accuracy, a real healthy
# MLP on circles), while the model's predictions hold; when the split's accuracy is logged and
# moved by less than HELDOUT_ACC_SWING over the same late evaluations, the swing is not
# instability (unstable real runs moved it 3-14 points, healthy ones 0.6-1.7).
HELDOUT_ACC_SWING = 0.02
BATCH_BLOCK_MIN = 5
BATCH_MIN_BLOCKS = 12
BATCH_BLOCK_CV = 0.2
BATCH_NOISE_EXCESS = 2.5
SPIKE_REFERENCE_START = 0.10
SPIKE_RATE_EXCESS = 3.0


@dataclass
class _Noise:
    """The late noise figures of one loss: step-to-step noise, its level, the bar it met."""

    noise: float
    level: float
    bar: float
    batch_noise: float | None = None  # what minibatch sampling alone gives (block means)
    block: int | None = None

    @property
    def cv(self) -> float:
        return self.noise / self.level if self.level > 0 else math.inf


def _late_noise(c: Curve, k: int, heldout: bool, rng: float) -> tuple[bool, _Noise]:
    v = c.values[-k:]
    if heldout or len(c) < BATCH_BLOCK_MIN * BATCH_MIN_BLOCKS:
        nz = _Noise(
            step_noise(v), float(np.median(np.abs(v))), HELDOUT_CV if heldout else UNSTABLE_CV
        )
        return nz.cv >= nz.bar and nz.noise >= NOISE_RANGE_FRACTION * rng and nz.noise > 0, nz
    block = max(BATCH_BLOCK_MIN, smooth_window(len(c)))
    means, batch_noise = block_means(c.values, block)
    late = means[-max(4, math.ceil(means.shape[0] * LATE_FRACTION)) :]
    nz = _Noise(
        step_noise(late), float(np.median(np.abs(late))), BATCH_BLOCK_CV, batch_noise, block
    )
    noisy = (
        nz.cv >= nz.bar
        and nz.noise >= BATCH_NOISE_EXCESS * batch_noise
        and nz.noise >= NOISE_RANGE_FRACTION * rng
        and nz.noise > 0
    )
    return noisy, nz


def _spikes(c: Curve, lo: int, hi: int, sigma: float | None, rng: float) -> FloatArray:
    """Which points of ``c[lo:hi]`` are spikes (see the rule's comment); without ``sigma`` the
    robust-sigma test is left out (the reference rate of a run's batch noise)."""
    v, sm = c.values[lo:hi], c.smooth[lo:hi]
    height = v - sm
    spike = (
        (height >= SPIKE_RANGE_FRACTION * rng)
        & ((sm <= 0) | (v >= SPIKE_FACTOR * sm))
        & (height > 0)
    )
    if sigma is not None:
        spike &= height >= SPIKE_Z * sigma
    out: FloatArray = spike.astype(np.float64)
    return out


def _accuracy_holds(run: Run, loss: Series, k: int) -> bool:
    """Whether the accuracy of a held-out loss's split stayed within HELDOUT_ACC_SWING over its
    last ``k`` evaluations (a fraction in [0, 1], or percent)."""
    acc = run.get(f"{split_name(loss.name)[0]}/acc")
    if acc is None:
        return False
    values = acc.values[np.isfinite(acc.values)][-k:]
    if values.shape[0] < min(k, HELDOUT_MIN_LATE):
        return False
    scale = 100.0 if float(np.max(values)) > 1.0 else 1.0
    return float(np.max(values) - np.min(values)) / scale < HELDOUT_ACC_SWING


@reports("curve.unstable")
def rule_unstable(run: Run) -> list[Finding]:
    out: list[Finding] = []
    for s in loss_series(run):
        c = Curve.of(s)
        heldout = split_name(s.name)[0] in ("val", "test", "train-dev")
        if len(c) < (HELDOUT_MIN_POINTS if heldout else UNSTABLE_MIN_POINTS):
            continue
        k = max(HELDOUT_MIN_LATE if heldout else 3, math.ceil(len(c) * LATE_FRACTION))
        v, sm, st = c.values[-k:], c.smooth[-k:], c.steps[-k:]
        resid = v - sm
        sigma = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
        rng = float(np.max(c.smooth) - np.min(c.smooth))
        spike = _spikes(c, len(c) - k, len(c), sigma, rng) > 0
        reference = None
        if not heldout and len(c) >= BATCH_BLOCK_MIN * BATCH_MIN_BLOCKS:
            # how often the run's own batch noise makes a spike before the late window
            lo = math.ceil(len(c) * SPIKE_REFERENCE_START)
            reference = float(np.mean(_spikes(c, lo, len(c) - k, None, rng)))
            if int(spike.sum()) < SPIKE_RATE_EXCESS * reference * k:
                spike[:] = False
        noisy, nz = _late_noise(c, k, heldout, rng)
        spiky = int(spike.sum()) >= MIN_SPIKES
        if not spiky and not noisy:
            continue
        if heldout and _accuracy_holds(run, s, k):
            continue
        cv, noise, level, bar = nz.cv, nz.noise, nz.level, nz.bar
        thr: dict[str, JsonValue] = {
            "late_fraction": LATE_FRACTION,
            "spike_factor": SPIKE_FACTOR,
            "spike_z": SPIKE_Z,
            "spike_range_fraction": SPIKE_RANGE_FRACTION,
            "min_spikes": MIN_SPIKES,
            "relative_step_noise": bar,
            "noise_range_fraction": NOISE_RANGE_FRACTION,
        }
        if nz.block is not None:
            thr["batch_noise_excess"] = BATCH_NOISE_EXCESS
            thr["block_points"] = nz.block
        if spiky:
            idx = np.flatnonzero(spike)
            top = int(idx[int(np.argmax(v[idx] / np.maximum(np.abs(sm[idx]), 1e-300)))])
            msg = (
                f"{s.name} has {idx.shape[0]} spike(s) in the last {k} points of run "
                f"{run.name!r}; the largest is {v[top]:.4g} at step {int(st[top])} against a "
                f"local level of {sm[top]:.4g}."
            )
            step = int(st[int(idx[0])])
            extra: dict[str, JsonValue] = {
                "spike_steps": [int(x) for x in st[idx][:20]],
                "spike_values": [rnd(float(x)) for x in v[idx][:20]],
                "largest_spike_step": int(st[top]),
                "largest_spike_value": rnd(float(v[top])),
                "local_level": rnd(float(sm[top])),
            }
        else:
            msg = (
                f"{s.name} fluctuates by {cv * 100:.0f}% of its level from step to step over "
                f"the last {k} points of run {run.name!r} (noise {noise:.3g}, level "
                f"{level:.3g}"
                + (
                    f", on means of {nz.block} points, {noise / nz.batch_noise:.1f}x what "
                    "minibatch sampling alone gives)."
                    if nz.block is not None and nz.batch_noise
                    else ")."
                )
            )
            step = int(st[0])
            extra = {}
        if nz.batch_noise is not None:
            extra["block_batch_noise"] = rnd(nz.batch_noise)
        if reference is not None:
            extra["reference_spike_rate"] = rnd(reference, 4)
        out.append(
            finding(
                "curve.unstable",
                msg + " Consider warmup, gradient clipping or a lower peak learning rate.",
                how="curve",
                step=ev_step(step),
                detail=rule_detail(
                    run,
                    s,
                    "late spikes or high late step-to-step variance",
                    late_points=k,
                    robust_residual_sigma=rnd(sigma),
                    relative_step_noise=rnd(cv, 4),
                    smoothed_range=rnd(rng),
                    threshold=thr,
                    **extra,
                ),
            )
        )
    return out


__all__ = ["rule_unstable"]
