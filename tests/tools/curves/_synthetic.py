"""Synthetic curves for rule tests: shapes with seeded noise, built into Run objects directly."""

from __future__ import annotations

import numpy as np

from dlpilot.tools.curves._model import Run, Series


def series(name: str, steps, values, original: str | None = None) -> Series:
    return Series(
        name=name,
        original=original or name,
        steps=np.asarray(steps, dtype=np.int64),
        values=np.asarray(values, dtype=np.float64),
    )


def make_run(name: str = "run", *items: Series) -> Run:
    run = Run(name=name, source="memory", format="synthetic")
    for s in items:
        run.series[s.name] = s
    return run


def noisy(values, rel: float = 0.15, seed: int = 0):
    """Multiplicative log-normal minibatch noise, the way per-step losses jitter."""
    rng = np.random.default_rng(seed)
    v = np.asarray(values, dtype=np.float64)
    return v * np.exp(rng.normal(0.0, rel, v.shape[0]))


def decay(steps, start: float = 2.3, floor: float = 0.2, tau: float = 150.0):
    steps = np.asarray(steps, dtype=np.float64)
    return (start - floor) * np.exp(-steps / tau) + floor


STEPS = np.arange(1000)
EVAL_STEPS = np.arange(0, 1000, 50)


def healthy_run(name: str = "healthy", seed: int = 0) -> Run:
    """Train loss falls with minibatch noise; validation follows it a little higher."""
    rng = np.random.default_rng(seed + 1)
    return make_run(
        name,
        series("train/loss", STEPS, noisy(decay(STEPS), seed=seed)),
        series(
            "val/loss",
            EVAL_STEPS,
            decay(EVAL_STEPS, floor=0.22) + rng.normal(0, 0.004, EVAL_STEPS.shape[0]),
        ),
    )
