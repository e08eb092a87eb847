"""Optimizers and learning rates: each optimizer's steps, zeroing, updates and rates.

Zeroing: after each step the identity and version of the tracked gradients are kept; a backward
that then adds to those same gradients makes the optimizer stale (gradients accumulate across
steps), judged when it next steps (a reset before its next backward clears it). A step right
after a backward that finds every gradient reset (``zero_grad`` between backward and step) is
noted too. Updates: the parameters' largest change since the first step, the update / weight
ratio on sampled steps, and non-finite weights. Rates: :class:`~._lrtrack.LrTracker`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim.optimizer import (
    Optimizer,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from ._clip import ClipObserver
from ._context import RunContext
from ._grads import GradientObserver
from ._lrtrack import LrTracker
from ._modules import ModuleIndex
from ._overfit import OverfitObserver
from ._schema import MAX_NAMES, MAX_SERIES, OptimizerSummary, Params
from ._tensors import Snapshot, changed, cleared, grad_state, snapshot_params

MAX_OPTIMIZERS = 8
"""Optimizers followed (a GAN has two)."""

MAX_GROUPS_REPORTED = 8
"""Parameter groups described per optimizer."""

MAX_TRACKED_PARAMS = 64
"""Parameters per optimizer whose gradient identity is followed step to step (zero-grad checks)."""

DISCARDS_PER_STEP = 2
"""Gradients filled by a backward and reset unused before an optimizer step, counted per step.
A GAN's generator backward spills into the discriminator's gradients, which its next zero_grad
drops once per step; an optimizer step dedented out of the batch loop drops every batch's
gradient but the last (at least two per step once an epoch has three batches)."""

MAX_SNAPSHOT_ELEMENTS = 2_000_000
"""Parameter elements copied on a sampled step to measure the update/weight ratio."""

CHANGE_SNAPSHOT_ELEMENTS = 1_000_000
"""Parameter elements copied at the first step to tell whether training changes anything."""


@dataclass
class _Opt:
    oid: int
    opt: Optimizer
    steps: int = 0
    params: list[torch.Tensor] = field(default_factory=list)
    tracked: list[torch.Tensor] = field(default_factory=list)
    post_state: list[tuple[int, int] | None] | None = None
    # a backward added to the gradients this optimizer had at its last step; judged when it
    # next steps (a reset before its next backward clears it: a GAN's generator backward
    # writes into the discriminator's gradients, which its next zero_grad drops unused)
    stale: bool = False
    bw_at_step: int = 0
    # a backward since the last step wrote into these gradients; how many times they were
    # then reset before the next backward with no step using them (one step per epoch)
    filled: bool = False
    discards: int = 0
    first_snapshot: Snapshot | None = None
    max_change: float | None = None
    change_checked_at: int = 0


class OptimizerObserver:
    """Optimizer construction and step hooks; owns ``optimizers``, ``params`` and the zeroing part
    of ``loop``."""

    def __init__(
        self,
        ctx: RunContext,
        modules: ModuleIndex,
        grads: GradientObserver,
        replay: OverfitObserver,
    ) -> None:
        self.ctx = ctx
        self.modules = modules
        self.grads = grads
        self.replay = replay
        self.opts: list[_Opt] = []
        self._by_id: dict[int, _Opt] = {}
        self.lr_track = LrTracker()
        self.clip: ClipObserver | None = None  # told of each step (set by the recorder)
        self.on_step: Callable[[], None] = lambda: None  # after each step (set by the recorder)
        # whether the current batch is in the first training epoch, and that epoch's length
        self.first_epoch: Callable[[], tuple[bool, int | None]] = lambda: (False, None)
        self._bw_state: dict[int, tuple[int, int] | None] = {}
        self._pre_states: dict[int, list[tuple[int, int] | None]] = {}
        self._snapshot: Snapshot | None = None
        self.transitions = 0
        self.not_zeroed = 0
        self.not_zeroed_first_step: int | None = None
        self.step_checks = 0
        self.cleared = 0
        self.cleared_first_step: int | None = None
        self.steps_without_backward = 0
        self.discarded_steps = 0
        self.discarded_first_step: int | None = None
        self._fill_states: dict[int, list[tuple[int, int] | None]] = {}
        self.param_nonfinite_step: int | None = None
        self.param_nonfinite_names: list[str] | None = None
        self.ratio: list[list[float | None]] = []

    def install(self) -> None:
        ctx = self.ctx
        ctx.on_undo(register_optimizer_step_pre_hook(self._on_step_pre).remove)
        ctx.on_undo(register_optimizer_step_post_hook(self._on_step_post).remove)
        ctx.patch(Optimizer, "__init__", self._wrap_init)
        if not ctx.overfit:
            ctx.patch(torch.optim.lr_scheduler.LRScheduler, "__init__", self._wrap_sched_init)

    def _record(self, opt: Optimizer) -> _Opt:
        rec = self._by_id.get(id(opt))
        params = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
        if rec is None or rec.opt is not opt:
            self.lr_track.built(opt)
            rec = _Opt(oid=len(self.opts), opt=opt)
            if len(self.opts) < MAX_OPTIMIZERS:
                self.opts.append(rec)
            self._by_id[id(opt)] = rec
            self.ctx.w.write(
                "optimizer",
                oid=rec.oid,
                type=type(opt).__name__,
                groups=[
                    {
                        k: v
                        for k, v in g.items()
                        if k != "params" and isinstance(v, int | float | bool | str)
                    }
                    for g in opt.param_groups[:MAX_GROUPS_REPORTED]
                ],
                params=len(params),
            )
        if len(params) != len(rec.params):
            rec.params = params
            rec.tracked = params[:MAX_TRACKED_PARAMS]
            self.grads.register(params)
        return rec

    def _wrap_init(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(opt: Optimizer, *args: Any, **kwargs: Any) -> None:
            orig(opt, *args, **kwargs)
            if self.ctx.mine():
                self._record(opt)

        return __init__

    def _wrap_sched_init(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(sched: Any, *args: Any, **kwargs: Any) -> None:
            orig(sched, *args, **kwargs)
            if self.ctx.mine():
                self.lr_track.scheduler(sched)

        return __init__

    # --- around each backward -------------------------------------------------------------------

    def before_backward(self) -> None:
        # a stale optimizer whose gradients were reset since is not stale
        for o in self.opts:
            if o.stale and all(cleared(p) for p in o.tracked):
                o.stale = False
        # gradients a backward filled since the last step, reset before this backward unused
        for o in self.opts:
            if o.filled and all(cleared(p) for p in o.tracked):
                o.discards += 1
            o.filled = False
        self._fill_states = {o.oid: [grad_state(p) for p in o.tracked] for o in self.opts}
        # the state of each optimizer's tracked grads before this backward
        self._pre_states = {
            o.oid: [grad_state(p) for p in o.tracked] for o in self.opts if o.post_state
        }

    def after_backward(self) -> None:
        for o in self.opts:
            pre = self._fill_states.get(o.oid)
            if pre is not None and any(
                grad_state(p) != pre[i] for i, p in enumerate(o.tracked) if i < len(pre)
            ):
                o.filled = True
        for o in self.opts:
            before = self._pre_states.get(o.oid)
            if o.post_state is None or before is None:
                continue
            after = [grad_state(p) for p in o.tracked]
            touched = [i for i in range(len(after)) if after[i] != before[i]]
            if not touched:
                continue
            not_zeroed = sum(
                1 for i in touched if before[i] is not None and before[i] == o.post_state[i]
            )
            self.transitions += 1
            o.stale = not_zeroed * 2 > len(touched)
            o.post_state = None
        for o in self.opts:
            for p in o.tracked:
                self._bw_state[id(p)] = grad_state(p)

    # --- around each step -----------------------------------------------------------------------

    def _on_step_pre(self, opt: Optimizer, args: Any, kwargs: Any) -> Any:
        if not self.ctx.mine():
            return None
        self.ctx.check()
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if callable(closure):
            # step(closure) computes the gradients inside the step (Lightning's automatic
            # optimization, LBFGS): the checks on them run once the closure has returned
            wrapped = _after_first_call(closure, lambda: self._pre_safely(opt))
            if "closure" in kwargs:
                return args, {**kwargs, "closure": wrapped}
            return (args[0], wrapped, *args[2:]), kwargs
        self._pre_safely(opt)
        return None

    def _pre_safely(self, opt: Optimizer) -> None:
        try:
            self._step_pre(opt)
        except Exception as exc:
            self.ctx.internal("step-pre", exc)

    def _step_pre(self, opt: Optimizer) -> None:
        ctx = self.ctx
        o = self._record(opt)
        if ctx.overfit:
            self.replay.step_pre(opt)
            return
        if self.clip is not None:
            self.clip.step_pre()
        count = ctx.count()
        if o.stale:  # it steps on gradients that hold what its previous step already used
            o.stale = False
            self.not_zeroed += 1
            if self.not_zeroed_first_step is None:
                self.not_zeroed_first_step = ctx.steps
                ctx.mark("not_zeroed")
        if o.discards >= DISCARDS_PER_STEP:
            self.discarded_steps += 1
            if self.discarded_first_step is None:
                self.discarded_first_step = count
                ctx.mark("discarded")
        o.discards = 0
        o.filled = False
        backward_ran = ctx.backwards > o.bw_at_step
        if not backward_ran:
            self.steps_without_backward += 1
        cleared_all = False
        touched = [p for p in o.tracked if self._bw_state.get(id(p)) is not None]
        if backward_ran and touched:
            now = [grad_state(p) for p in touched]
            if all(s is None for s in now):
                cleared_all = True
        sampled = ctx.sampled
        if sampled:
            zero = self.grads.sample(o.params)
            if backward_ran and touched and not cleared_all and zero:
                # all zero: reset since the backward (the gradient tensors were written after
                # it), or never non-zero (a non-differentiable op: no one cleared them)
                cleared_all = any(grad_state(p) != self._bw_state.get(id(p)) for p in touched)
            self.grads.outside_optimizers()
        if backward_ran and touched and (sampled or cleared_all):
            self.step_checks += 1
            if cleared_all:
                self.cleared += 1
                if self.cleared_first_step is None:
                    self.cleared_first_step = count
                    ctx.mark("cleared")
        if o.first_snapshot is None:
            o.first_snapshot = snapshot_params(o.params, CHANGE_SNAPSHOT_ELEMENTS)
        if sampled:
            weights = [p for p in o.params if p.dim() >= 2]
            self._snapshot = snapshot_params(weights, MAX_SNAPSHOT_ELEMENTS)

    def _on_step_post(self, opt: Optimizer, args: Any, kwargs: Any) -> None:
        if not self.ctx.mine():
            return
        try:
            self._step_post(opt)
        except Exception as exc:
            self.ctx.internal("step-post", exc)
        self.ctx.bound(self.ctx.steps)

    def _step_post(self, opt: Optimizer) -> None:
        ctx = self.ctx
        o = self._record(opt)
        o.steps += 1
        o.bw_at_step = ctx.backwards
        o.post_state = [grad_state(p) for p in o.tracked]
        ctx.steps += 1
        self.on_step()
        if not ctx.overfit:
            first, length = self.first_epoch()
            self.lr_track.step(opt, ctx.steps, first_epoch=first, epoch_steps=length)
            if self._snapshot is not None:
                self._update_ratio()
                self._snapshot = None
            if ctx.sampled:
                self._param_finite(o.params)
            if o.first_snapshot is not None and (o.steps & (o.steps - 1) == 0):
                o.max_change = changed(o.first_snapshot)
                o.change_checked_at = o.steps
        ctx.end_step()

    def lr(self) -> float | None:
        """The first group's rate of the first optimizer (the step events' ``lr``)."""
        if not self.opts:
            return None
        groups = self.opts[0].opt.param_groups
        lr = groups[0].get("lr") if groups else None
        return float(lr) if isinstance(lr, int | float) else None

    def _update_ratio(self) -> None:
        snap = self._snapshot
        if not snap:
            return
        ratios = []
        for p, old in snap:
            cur = p.detach().reshape(-1)[: old.numel()].float()
            ratios.append((cur - old.float()).norm() / cur.norm().clamp_min(1e-12))
        vals = torch.stack([r.to(ratios[0].device) for r in ratios]).tolist()
        logs = sorted(math.log10(v) for v in vals if v > 0 and math.isfinite(v))
        if len(self.ratio) < MAX_SERIES:
            med = logs[len(logs) // 2] if logs else None
            self.ratio.append([self.ctx.steps, med, self.lr(), len(vals) - len(logs)])

    def _param_finite(self, params: list[torch.Tensor]) -> None:
        if self.param_nonfinite_step is not None or not params:
            return
        try:
            norms = torch._foreach_norm([p.detach() for p in params])
            ok = bool(torch.isfinite(torch.stack([n.float() for n in norms])).all())
        except RuntimeError:
            ok = all(bool(torch.isfinite(p.detach()).all()) for p in params)
        if not ok:
            bad = [
                self.modules.param_name(p)
                for p in params
                if not bool(torch.isfinite(p.detach()).all())
            ]
            self.param_nonfinite_step = self.ctx.steps
            self.param_nonfinite_names = bad[:MAX_NAMES]

    # --- summary --------------------------------------------------------------------------------

    def summary(self) -> list[OptimizerSummary]:
        return [
            {
                "oid": o.oid,
                "type": type(o.opt).__name__,
                "steps": o.steps,
                "params": len(o.params),
                "max_change": o.max_change,
                "change_checked_at": o.change_checked_at,
                "lr": [g.get("lr") for g in o.opt.param_groups[:MAX_GROUPS_REPORTED]],
                **self.lr_track.summary(o.opt),  # type: ignore[typeddict-item]
            }
            for o in self.opts
        ]

    def params(self) -> Params:
        out: Params = {"nonfinite_step": self.param_nonfinite_step, "ratio": self.ratio}  # type: ignore[typeddict-item]
        if self.param_nonfinite_names is not None:
            out["nonfinite_names"] = self.param_nonfinite_names
        return out


def _after_first_call(fn: Callable[..., Any], then: Callable[[], None]) -> Callable[..., Any]:
    """``fn`` that runs ``then()`` after its first call returns (a closure may run many times)."""
    done = False

    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        out = fn(*args, **kwargs)
        if not done:
            done = True
            then()
        return out

    return call


__all__ = ["OptimizerObserver"]
