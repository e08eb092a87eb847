"""The learning rate each parameter group actually used, against the one it was configured with.

The configured peak of a group is the largest of: the ``lr`` it had when its optimizer was built
(the constructor's, or the group's own), ``initial_lr`` (what a scheduler found there when it was
built), ``max_lr`` (``OneCycleLR`` keeps its peak in the group) and the ``max_lrs`` of a scheduler
attached to the optimizer (``CyclicLR``). A correct schedule (warm-up, cosine, one-cycle, step
decay, plateau) never goes above it; a warm-up ``LambdaLR`` that forgets its division by the
warm-up length makes the rate climb to many times it. In the first training epoch the lowest rate
used against the highest used before it is kept too: an epoch-based scheduler stepped per batch
collapses the rate by orders of magnitude there. The rule that judges this lives in
``dlpilot.tools.checks._rules``; this module only measures, once per optimizer step.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

MAX_GROUPS = 8
"""Parameter groups followed per optimizer (the recorder's own cap on groups)."""


def _lr(value: Any) -> float | None:
    try:
        lr = float(value)  # a float, an int, or a one-element tensor
    except (TypeError, ValueError, RuntimeError):
        return None
    return lr if math.isfinite(lr) and lr >= 0 else None


class LrTracker:
    """Per optimizer: the configured peak of each group and the step where the rate used stood
    highest above it."""

    def __init__(self) -> None:
        self._built: dict[int, list[float | None]] = {}
        self._schedulers: dict[int, list[weakref.ref[Any]]] = {}
        self._worst: dict[int, dict[str, Any]] = {}
        self._first_max: dict[tuple[int, int], float] = {}  # (optimizer, group) -> highest rate
        self._drop: dict[int, dict[str, Any]] = {}

    def built(self, opt: Any) -> None:
        """Record the rates an optimizer was built with (call right after its constructor, or
        when it is first seen: then ``initial_lr`` still holds the pre-scheduler value)."""
        if id(opt) not in self._built:
            self._built[id(opt)] = [_lr(g.get("lr")) for g in opt.param_groups[:MAX_GROUPS]]

    def scheduler(self, sched: Any) -> None:
        """Remember a scheduler (for the ``max_lrs`` of a cyclic one)."""
        opt = getattr(sched, "optimizer", None)
        if opt is not None:
            self._schedulers.setdefault(id(opt), []).append(weakref.ref(sched))

    def peak(self, opt: Any, index: int, group: dict[str, Any]) -> float | None:
        """The configured peak of group ``index`` (see the module docstring)."""
        built = self._built.get(id(opt), [])
        candidates = [
            built[index] if index < len(built) else None,
            _lr(group.get("initial_lr")),
            _lr(group.get("max_lr")),
        ]
        for ref in self._schedulers.get(id(opt), []):
            sched = ref()
            peaks = getattr(sched, "max_lrs", None) if sched is not None else None
            if isinstance(peaks, list | tuple) and index < len(peaks):
                candidates.append(_lr(peaks[index]))
        known = [c for c in candidates if c is not None and c > 0]
        return max(known) if known else None

    def step(
        self, opt: Any, step: int, first_epoch: bool = False, epoch_steps: int | None = None
    ) -> None:
        """After an optimizer step: the rate each group used, against its configured peak, and
        in the first half of the first training epoch against the highest rate used before it."""
        self.built(opt)
        worst = self._worst.get(id(opt))
        drop = self._drop.get(id(opt))
        for index, group in enumerate(opt.param_groups[:MAX_GROUPS]):
            used = _lr(group.get("lr"))
            if first_epoch and used is not None:
                key = (id(opt), index)
                before = self._first_max.get(key)
                if before is not None and before > 0:
                    fall = used / before
                    if drop is None or fall < drop["ratio"]:
                        drop = {
                            "ratio": fall,
                            "lr": used,
                            "before": before,
                            "group": index,
                            "step": step,
                            "epoch_steps": epoch_steps,
                        }
                self._first_max[key] = max(used, before or 0.0)
            peak = self.peak(opt, index, group)
            if used is None or peak is None:
                continue
            ratio = used / peak
            if worst is None or ratio > worst["ratio"]:
                worst = {"ratio": ratio, "lr": used, "peak": peak, "group": index, "step": step}
        if worst is not None:
            self._worst[id(opt)] = worst
        if drop is not None:
            self._drop[id(opt)] = drop

    def summary(self, opt: Any) -> dict[str, Any]:
        """``lr_built`` (the rates at construction) and ``lr_above_peak`` (the step where the
        rate used stood highest against the configured peak, with both rates)."""
        return {
            "lr_built": self._built.get(id(opt)),
            "lr_above_peak": self._worst.get(id(opt)),
            "lr_drop": self._drop.get(id(opt)),
        }


__all__ = ["MAX_GROUPS", "LrTracker"]
