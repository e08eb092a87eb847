"""The round's search space, sampler and pruner as Optuna objects.

* ``qmc``: the Tuning Playbook's quasi-random search, ``QMCSampler(qmc_type="halton",
  scramble=True, seed=round.seed)``: the same seed on every worker, so workers share one sequence.
* ``tpe`` / ``gp`` / ``random``: seeded per worker (the round's seed and the worker id), so two
  workers do not propose the same points. ``gp`` imports torch in the runner (Optuna's GP code
  needs it); the other samplers do not.
* ``grid``: every combination of the parameters' choices / steps.

Pruners: ``asha`` (asynchronous successive halving; ``min_step`` is its minimum resource),
``hyperband``, ``median`` (no pruning before ``min_step``) and ``none``.
"""

from __future__ import annotations

import warnings
import zlib
from typing import Any

import numpy as np
import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.pruners import (
    BasePruner,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    SuccessiveHalvingPruner,
)
from optuna.samplers import (
    BaseSampler,
    GridSampler,
    QMCSampler,
    RandomSampler,
    TPESampler,
)

from dlpilot.tools.trials._round import CategoricalParam, FloatParam, IntParam, RoundFile

MEDIAN_STARTUP_TRIALS = 3
"""Trials the median pruner lets finish before it prunes: a median of fewer is noise."""


def make_sampler(round_: RoundFile, worker: str) -> BaseSampler:
    seed = round_.seed
    worker_seed = (seed * 1_000_003 + zlib.crc32(worker.encode())) % (2**32)
    if round_.sampler == "qmc":
        with warnings.catch_warnings():  # "experimental" since Optuna 3; the playbook's choice
            warnings.simplefilter("ignore", ExperimentalWarning)
            return QMCSampler(qmc_type="halton", scramble=True, seed=seed)
    if round_.sampler == "tpe":
        return TPESampler(seed=worker_seed)
    if round_.sampler == "gp":
        from optuna.samplers import GPSampler

        return GPSampler(seed=worker_seed)
    if round_.sampler == "random":
        return RandomSampler(seed=worker_seed)
    return _Grid(grid(round_), seed=seed)


class _Grid(GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` at the end of the grid (which works
    only inside ``optimize``): the runner keeps the round's own budget."""

    def after_trial(self, *args: Any, **kwargs: Any) -> None:
        return None


def grid(round_: RoundFile) -> dict[str, list[Any]]:
    """Every parameter's values for the grid sampler (the model checked they are finite)."""
    space: dict[str, list[Any]] = {}
    for name, p in round_.varied.items():
        if isinstance(p, CategoricalParam):
            space[name] = list(p.choices)
        elif isinstance(p, IntParam):
            space[name] = list(range(p.low, p.high + 1, p.step))
        else:
            assert p.step is not None
            count = round((p.high - p.low) / p.step) + 1
            space[name] = [
                float(v) for v in np.linspace(p.low, p.low + p.step * (count - 1), count)
            ]
    return space


def make_pruner(round_: RoundFile) -> BasePruner:
    spec = round_.pruner
    if spec.kind == "asha":
        return SuccessiveHalvingPruner(
            min_resource=spec.min_step if spec.min_step > 0 else "auto",
            reduction_factor=spec.reduction_factor,
        )
    if spec.kind == "hyperband":
        return HyperbandPruner(
            min_resource=max(1, spec.min_step),
            max_resource=spec.max_step if spec.max_step is not None else "auto",
            reduction_factor=spec.reduction_factor,
        )
    if spec.kind == "median":
        return MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=spec.min_step)
    return NopPruner()


def suggest(trial: optuna.Trial, round_: RoundFile) -> dict[str, Any]:
    """The trial's values of the varied parameters (enqueued values are kept as they are)."""
    params: dict[str, Any] = {}
    for name, p in round_.varied.items():
        if isinstance(p, FloatParam):
            params[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            params[name] = trial.suggest_int(name, p.low, p.high, log=p.log, step=p.step)
        else:
            params[name] = trial.suggest_categorical(name, p.choices)
    return params


__all__ = ["grid", "make_pruner", "make_sampler", "suggest"]
