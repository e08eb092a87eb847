"""LR range test: raise the learning rate exponentially from lr_min to lr_max, one training step
each, and record the loss; stop when the smoothed loss diverges. The parent picks the suggestion."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from ._build import Parts, split_batch
from ._protocol import Events, stage

MAX_SMOOTHING_BETA = 0.98
"""Upper bound of the EMA factor (bias-corrected): fastai's and Lightning's fixed value."""

SMOOTHING_MEMORY_STEPS = 10.0
"""The EMA remembers about this many steps. A fixed 0.98 remembers ~50, most of a short ramp:
the smoothed loss then lags the lr by decades and the steepest point lands at a far too high lr
(a 60-step ramp on the example suggested lr 3.9 for AdamW)."""


def smoothing_beta(steps: int) -> float:
    """EMA factor for a ramp of ``steps`` steps: memory of ~10 steps, within [0.6, 0.98]."""
    return min(MAX_SMOOTHING_BETA, max(0.6, 1.0 - SMOOTHING_MEMORY_STEPS / max(1, steps)))


DIVERGE_FACTOR = 4.0
"""Stop once the smoothed loss exceeds this many times its best value: it has diverged."""


def lr_range(parts: Parts, params: dict[str, Any], events: Events) -> dict[str, Any]:
    lr_min, lr_max, steps = float(params["lr_min"]), float(params["lr_max"]), int(params["steps"])
    model = parts.model
    model.train()
    saved_model = copy.deepcopy(model.state_dict())
    opt = parts.make_optimizer(model, lr=lr_min)
    saved_opt = copy.deepcopy(opt.state_dict())
    batches = parts.train.forever()
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    beta = smoothing_beta(steps)
    avg, best = 0.0, math.inf
    stopped: str | None = None
    for i in range(steps):
        lr = lr_min * (lr_max / lr_min) ** (i / max(1, steps - 1))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = split_batch(next(batches))
        opt.zero_grad(set_to_none=True)
        loss = parts.compute_loss(parts.forward(model, x), y)
        value = float(loss.detach())
        lrs.append(lr)
        losses.append(value)
        if not math.isfinite(value):
            smoothed.append(math.inf)
            stopped = "nonfinite"
            break
        avg = beta * avg + (1 - beta) * value
        smooth = avg / (1 - beta ** (i + 1))
        smoothed.append(smooth)
        best = min(best, smooth)
        if i > 0 and smooth > DIVERGE_FACTOR * best:
            stopped = "diverged"
            break
        with stage(f"back-propagating the loss of {parts.config['model']}"):
            loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        events.emit(
            i + 1, steps, f"LR range test: step {i + 1}/{steps}, lr {lr:.3g}, loss {value:.4g}"
        )
    model.load_state_dict(saved_model)
    opt.load_state_dict(saved_opt)
    restored = all(
        torch.equal(v, saved_model[k]) for k, v in model.state_dict().items() if k in saved_model
    )
    return {
        "lr_min": lr_min,
        "lr_max": lr_max,
        "steps": steps,
        "lrs": lrs,
        "losses": losses,
        "smoothed": smoothed,
        "beta": beta,
        "diverge_factor": DIVERGE_FACTOR,
        "stopped": stopped,
        "batch_size": parts.train.batch_size,
        "state_restored": restored,
    }
