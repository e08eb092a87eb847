"""Rounds and trial records for the analysis and plot tests: realistic numbers, seeded noise.

``lr_round`` is a round over a log learning rate (and optionally dropout); ``scored`` /
``failed`` build records; ``bowl`` is a validation loss that is lowest at ``best_lr`` and grows
with the squared distance in decades, the shape real learning-rate sweeps have near the optimum.
``real_grid_records`` turns the recorded MLP-on-digits curves of the pruning benchmark (real
trainings) into trial records and curves.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.trials import RoundFile, TrialRecord, parse_round

FIXTURE = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "pruning_curves.json.gz"


def make_round(params: dict[str, dict[str, Any]], **fields: Any) -> RoundFile:
    data = {
        "name": "test-round",
        "command": "python train.py " + " ".join(f"--{n} {{{n}}}" for n in params),
        "metrics": "{trial_dir}/metrics.jsonl",
        "objective": {"metric": "val/loss", "direction": "minimize"},
        "trials": 24,
        "params": params,
    }
    data.update(fields)
    return parse_round(data)


def lr_round(low: float = 1e-4, high: float = 1.0, *, dropout: bool = True, **fields: Any):
    params: dict[str, dict[str, Any]] = {
        "lr": {"role": "nuisance", "type": "float", "low": low, "high": high, "log": True}
    }
    if dropout:
        params["dropout"] = {"role": "nuisance", "type": "float", "low": 0.0, "high": 0.5}
    return make_round(params, **fields)


def scored(number: int, value: float, kind: str = "search", **params: Any) -> TrialRecord:
    return TrialRecord(
        number=number,
        state="complete",
        kind=kind,
        params=params,
        value=value,
        exit_cause="completed",
        last_step=1000,
    )


def failed(number: int, cause: str, **params: Any) -> TrialRecord:
    return TrialRecord(
        number=number,
        state="failed",
        params=params,
        exit_cause=cause,
        exit_detail="loss became nan at step 37" if cause == "nonfinite" else "",
    )


def bowl(lr: float, best_lr: float = 3e-3, floor: float = 0.18, noise: float = 0.0) -> float:
    return floor + 0.06 * (math.log10(lr) - math.log10(best_lr)) ** 2 + noise


def log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(low), math.log(high), n))


def real_grid_records(
    seed: int = 0, take: str = "last"
) -> tuple[list[TrialRecord], dict[int, Run]]:
    """One trial per (lr, width) of the recorded grid: the value is the last (``take="last"``)
    or the lowest (``take="best"``) validation loss, a run that went non-finite is a failed
    ``nonfinite`` trial; with its curves."""
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as fh:
        runs = [r for r in json.load(fh)["runs"] if r["seed"] == seed]
    records, curves = [], {}
    for i, r in enumerate(runs):
        vl = [math.nan if v is None else v for v in r["val_loss"]]
        tl = [math.nan if v is None else v for v in r["train_loss"]]
        steps = np.arange(1, len(vl) + 1, dtype=np.int64) * r["steps_per_epoch"]
        params = {"lr": r["lr"], "width": r["width"]}
        if len(vl) < 40 or not math.isfinite(vl[-1]):
            records.append(failed(i, "nonfinite", **params))
        else:
            records.append(scored(i, vl[-1] if take == "last" else min(vl), **params))
        run = Run(name=f"lr{r['lr']}-w{r['width']}", source="fixture", format="jsonl")
        for name, values in (("val/loss", vl), ("train/loss", tl)):
            run.series[name] = Series(name, name, steps, np.asarray(values, dtype=np.float64))
        curves[i] = run
    return records, curves
