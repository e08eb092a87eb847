"""Gradients: per-parameter flow, non-finite gradients, and the norm series of sampled steps.

On a sampled step (just before an optimizer step, or after a backward when nothing steps an
optimizer) the gradient norms of the parameters are taken in one host transfer. A parameter
that requires grad and was sampled but never had a non-zero gradient gets no gradient flow; a
parameter of a trained model that has a gradient but belongs to no optimizer is never updated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._context import RunContext
from ._forward import ForwardObserver
from ._modules import ModuleIndex
from ._schema import MAX_NAMES, MAX_SERIES, Grads

MAX_PARAMS = 100_000
"""Parameters followed for gradient flow."""

MAX_OUTSIDE = 10_000
"""Parameters outside every optimizer collected (names reported: :data:`MAX_NAMES`)."""


@dataclass
class _PInfo:
    param: torch.Tensor
    grad_seen: bool = False
    grad_nonzero: bool = False
    sampled: int = 0


class GradientObserver:
    """Owns the ``grads`` part of the summary; the optimizer observer registers its parameters."""

    def __init__(self, ctx: RunContext, modules: ModuleIndex, forward: ForwardObserver) -> None:
        self.ctx = ctx
        self.modules = modules
        self.forward = forward
        self._pinfo: dict[int, _PInfo] = {}
        self._opt_param_ids: set[int] = set()
        self._outside_opt: dict[int, str] = {}
        self.sampled_steps = 0
        self.nonfinite_step: int | None = None
        self.nonfinite_names: list[str] = []
        self.series: list[list[float | None]] = []

    def register(self, params: list[torch.Tensor]) -> None:
        """Parameters an optimizer updates."""
        for p in params:
            self._opt_param_ids.add(id(p))
            if id(p) not in self._pinfo:
                self._pinfo[id(p)] = _PInfo(param=p)

    def sample(self, params: list[torch.Tensor]) -> bool | None:
        """Gradient norms of ``params`` in one host transfer. Returns whether every gradient
        that exists is exactly zero (None when no parameter has a gradient)."""
        idx = [i for i, p in enumerate(params) if p.grad is not None and not p.grad.is_sparse]
        for p in params:
            info = self._pinfo.get(id(p))
            if info is None and len(self._pinfo) < MAX_PARAMS:
                info = self._pinfo[id(p)] = _PInfo(param=p)
            if info is not None:
                info.sampled += 1
                if p.grad is not None and p.grad.is_sparse:
                    info.grad_seen = info.grad_nonzero = True
        if not idx:
            return None
        grads = [params[i].grad for i in idx]
        try:
            norms = torch._foreach_norm(grads)  # type: ignore[arg-type]
            vals = torch.stack([n.float().to(norms[0].device) for n in norms]).tolist()
        except RuntimeError:
            vals = [float(g.detach().float().norm()) for g in grads if g is not None]
        self.sampled_steps += 1
        total_sq = 0.0
        nonfinite: list[str] = []
        by_id: dict[int, float] = {}
        for i, v in zip(idx, vals, strict=False):
            p = params[i]
            by_id[id(p)] = v
            info = self._pinfo.get(id(p))
            if info is not None:
                info.grad_seen = True
                if v != 0.0:
                    info.grad_nonzero = True
            if not math.isfinite(v):
                nonfinite.append(self.modules.param_name(p))
            else:
                total_sq += v * v
        if nonfinite and self.nonfinite_step is None:
            self.nonfinite_step = self.ctx.count()
            self.nonfinite_names = nonfinite[:MAX_NAMES]
        first_layer, last_layer = self.forward.first_layer, self.forward.last_layer
        first = by_id.get(id(first_layer[1])) if first_layer else None
        last = by_id.get(id(last_layer[1])) if last_layer else None
        if len(self.series) < MAX_SERIES:
            total = math.sqrt(total_sq) if not nonfinite else math.nan
            self.series.append([self.ctx.steps, total, first, last])
        return all(v == 0.0 for v in vals)

    def outside_optimizers(self) -> None:
        """Note the trained parameters with a gradient that no optimizer updates."""
        if len(self._outside_opt) >= MAX_OUTSIDE:
            return
        for p in self.modules.trained_params():
            if id(p) not in self._opt_param_ids and p.grad is not None:
                self._outside_opt.setdefault(id(p), self.modules.param_name(p))

    def summary(self, has_optimizers: bool) -> Grads:
        params = list(self._pinfo.values())
        no_flow = [q for q in params if q.param.requires_grad and q.sampled and not q.grad_nonzero]
        if has_optimizers:
            no_flow = [q for q in no_flow if id(q.param) in self._opt_param_ids]
        names = [self.modules.param_name(q.param) for q in no_flow[:MAX_NAMES]]
        first_layer, last_layer = self.forward.first_layer, self.forward.last_layer
        return {
            "sampled_steps": self.sampled_steps,
            "nonfinite_step": self.nonfinite_step,
            "nonfinite_names": self.nonfinite_names,
            "series": self.series,  # type: ignore[typeddict-item]
            "first_layer": first_layer[0] if first_layer else None,
            "last_layer": last_layer[0] if last_layer else None,
            "params": len(params),
            "no_flow": names,
            "no_flow_count": len(no_flow),
            "not_in_optimizer": list(self._outside_opt.values())[:MAX_NAMES],
            "not_in_optimizer_count": len(self._outside_opt),
            "frozen": self.modules.frozen_count(),
        }


__all__ = ["GradientObserver"]
