"""What the curve rules share: a series' finite points with their smoothed version and noise
(:class:`Curve`), which series a rule reads, the evidence's detail and the late-training share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import JsonValue

from dlpilot.findings import Finding
from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves._signal import (
    FloatArray,
    Goal,
    IntArray,
    is_loss,
    json_float,
    smooth,
    split_name,
    step_noise,
)


@dataclass(eq=False)
class Curve:
    """A series' finite points with their smoothed version and a robust noise estimate."""

    series: Series
    steps: IntArray
    values: FloatArray
    smooth: FloatArray
    noise: float

    @property
    def name(self) -> str:
        return self.series.name

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @classmethod
    def of(cls, s: Series) -> Curve:
        mask = np.isfinite(s.values)
        steps, values = s.steps[mask], s.values[mask].astype(np.float64)
        sm = smooth(values) if values.shape[0] else values
        return cls(s, steps, values, sm, step_noise(values))

    def at(self, step: float) -> float:
        """The smoothed value at ``step`` (linear interpolation, clamped at the ends)."""
        return float(np.interp(step, self.steps.astype(np.float64), self.smooth))


def ev_step(step: float | None) -> int | None:
    return None if step is None or step < 0 else int(step)


def rnd(x: float, digits: int = 6) -> JsonValue:
    """A rounded float for evidence (non-finite values become strings)."""
    v = json_float(x)
    return round(v, digits) if isinstance(v, float) else v


def block_len(values: FloatArray, fraction: float, minimum: int) -> int:
    return max(minimum, math.ceil(int(values.shape[0]) * fraction))


# --------------------------------------------------------------------------------------------
# Which series a rule reads


def pick(run: Run, split: str, quantity: str = "loss") -> Series | None:
    """``split/quantity`` if logged, else the first ``split/*`` series whose name says loss
    (for quantity "loss"), in name order."""
    s = run.get(f"{split}/{quantity}")
    if s is not None or quantity != "loss":
        return s
    for name in sorted(run.series):
        if split_name(name)[0] == split and is_loss(name):
            return run.series[name]
    return None


def loss_series(run: Run) -> list[Series]:
    return [run.series[n] for n in sorted(run.series) if is_loss(n)]


def main_loss(run: Run) -> Series | None:
    """The training loss, or the first loss of any split when no training loss is logged."""
    s = pick(run, "train")
    if s is not None:
        return s
    losses = loss_series(run)
    return losses[0] if losses else None


def rule_detail(run: Run, s: Series, rule: str, **extra: JsonValue) -> dict[str, JsonValue]:
    d: dict[str, JsonValue] = {
        "run": run.name,
        "metric": s.name,
        "original": s.original,
        "rule": rule,
    }
    d.update(extra)
    return d


# --------------------------------------------------------------------------------------------
# curve.unstable lives in _unstable.py. LATE_FRACTION: the last quarter of the points counts as
# late training (the playbook's 'last 25% of steps'); several rules read it.


def as_error(c: Curve, goal: Goal) -> Curve:
    if goal == "min":
        return c
    return Curve(c.series, c.steps, -c.values, -c.smooth, c.noise)


LATE_FRACTION = 0.25

RunRule = Callable[[Run], list[Finding]]
