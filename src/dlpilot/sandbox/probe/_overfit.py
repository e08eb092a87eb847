"""Overfit mode: the single-batch test's changes to the script and its accuracy measurement.

Regularization goes off (dropout is the identity, label smoothing 0, schedulers frozen, weight
decay 0 and each group at its peak rate) and the first step's inputs are fed again every step:
each top-level call's arguments, and each loss's targets when the inputs did change (a script
that feeds its whole data every step is left alone). The batch accuracy of class and binary
losses goes into the step events.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._context import RunContext
from ._schema import OverfitEvidence
from ._tensors import arg, clone_tree, first_tensor, same_tree

MAX_REPLAYED_CALLS = 8
"""Top-level calls whose first-step inputs the overfit test replays (a model, a twice-called
encoder, a teacher, ...)."""

CLASS_LOSSES = ("cross_entropy", "nll_loss")
ACCURACY_LOSSES = (*CLASS_LOSSES, "binary_cross_entropy", "binary_cross_entropy_with_logits")

_DROPOUTS = (
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
)


class OverfitObserver:
    """Replays the first batch and turns regularization off (overfit mode only)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        # inputs of each top-level module's n-th call in a step (a Siamese encoder is called
        # twice), and whether this step's replay changed any input (it does not when the script
        # feeds the whole data every step, and then its targets are left alone too)
        self._args: dict[tuple[int, int], Any] = {}
        self._fw_index: dict[int, int] = {}
        self._changed = False
        self._targets: dict[tuple[str, int], torch.Tensor] = {}
        self._loss_index = 0
        self.replayed = 0
        self._step_acc: list[float] = []

    def install(self) -> None:
        """Dropout functions become the identity and schedulers stop stepping (the learning
        rate stays at each group's initial value); weight decay is zeroed per step."""
        ctx = self.ctx

        def identity_dropout(orig: Any) -> Any:
            def dropout(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
                return input

            return dropout

        for name in _DROPOUTS:
            if hasattr(F, name):
                ctx.patch(F, name, identity_dropout)

        sched = torch.optim.lr_scheduler

        def frozen_step(orig: Any) -> Any:
            def step(sch: Any, *args: Any, **kwargs: Any) -> Any:
                if getattr(sch, "_step_count", 0) == 0 or not ctx.active:
                    return orig(sch, *args, **kwargs)
                sch._step_count = getattr(sch, "_step_count", 0) + 1
                return None

            return step

        for cls in list(vars(sched).values()):
            if isinstance(cls, type) and issubclass(cls, sched.LRScheduler) and "step" in vars(cls):
                ctx.patch(cls, "step", frozen_step)

    def module_pre(self, module: nn.Module) -> None:
        """Attention dropout is an argument, not a module: set it to 0."""
        if isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0

    def forward_args(self, module: nn.Module, args: tuple[Any, ...]) -> Any:
        """The arguments a top-level call with grad gets instead of its own (None: its own)."""
        nth = self._fw_index.get(id(module), 0)
        self._fw_index[id(module)] = nth + 1
        key = (id(module), nth)
        if key not in self._args:
            if len(self._args) < MAX_REPLAYED_CALLS:
                self._args[key] = clone_tree(args)
            return None
        stored = self._args[key]
        if first_tensor(stored) is None:
            return None
        if not same_tree(stored, args):
            self._changed = True
        self.replayed += 1
        return clone_tree(stored)

    def loss_args(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        inp: torch.Tensor,
        tgt: torch.Tensor,
    ) -> tuple[tuple[Any, ...], dict[str, Any], torch.Tensor]:
        """The first step's targets when the inputs were replayed; no label smoothing."""
        key = (name, self._loss_index)
        self._loss_index += 1
        stored = self._targets.get(key)
        if stored is None:
            self._targets[key] = tgt.detach().clone()
        elif self._changed and (
            stored.shape == tgt.shape
            # the script's own batch ran short (the tail of its data, no DataLoader to drop it)
            # while the replayed prediction has the first batch's rows: its target goes with it
            or (stored.dim() > 0 and inp.dim() > 0 and stored.shape[0] == inp.shape[0])
        ):
            tgt = stored.clone()
            if "target" in kwargs:
                kwargs = {**kwargs, "target": tgt}
            else:
                args = (args[0], tgt, *args[2:])
        if name == "cross_entropy":
            if "label_smoothing" in kwargs:
                kwargs = {**kwargs, "label_smoothing": 0.0}
            elif len(args) > 7:
                args = (*args[:7], 0.0, *args[8:])
        return args, kwargs, tgt

    def accuracy(
        self,
        name: str,
        inp: torch.Tensor,
        tgt: torch.Tensor,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """The batch accuracy of a class or binary loss's prediction."""
        if name not in ACCURACY_LOSSES:
            return
        with torch.no_grad():
            x = inp.detach()
            if name in CLASS_LOSSES:
                if x.dim() < 2:
                    return
                pred = x.argmax(1)
                if tgt.is_floating_point():
                    if tgt.shape != x.shape:
                        return
                    truth = tgt.argmax(1)
                    mask = torch.ones_like(truth, dtype=torch.bool)
                else:
                    ignore = arg(args, kwargs, "ignore_index", 4, -100)
                    truth = tgt
                    mask = truth != ignore
                if pred.shape != truth.shape:
                    return
                hit = ((pred == truth) & mask).sum()
                n = mask.sum()
            else:
                cut = 0.0 if name == "binary_cross_entropy_with_logits" else 0.5
                if x.shape != tgt.shape:
                    return
                hit = ((x > cut) == (tgt > 0.5)).sum()
                n = torch.tensor(x.numel())
            h, total = torch.stack([hit.float(), n.float().to(hit.device)]).tolist()
            if total > 0:
                self._step_acc.append(h / total)

    def take_accuracy(self) -> float | None:
        """The last accuracy of the step that ends (and a fresh start for the next)."""
        acc = self._step_acc[-1] if self._step_acc else None
        self._step_acc = []
        return acc

    def step_pre(self, opt: torch.optim.Optimizer) -> None:
        for g in opt.param_groups:
            if "weight_decay" in g:
                g["weight_decay"] = 0.0
            # the schedule is off: train at its peak (OneCycleLR starts at max_lr / 25,
            # a warmup near 0; both keep their nominal rate in the group)
            peak = max(float(g.get("max_lr", 0.0)), float(g.get("initial_lr", 0.0)))
            if peak > 0:
                g["lr"] = peak

    def after_backward(self) -> None:
        """A new step begins: calls and losses are counted from the first again."""
        self._loss_index = 0
        self._fw_index.clear()
        self._changed = False

    def summary(self) -> OverfitEvidence:
        return {"replayed": self.replayed, "tops": len(self._args)}


__all__ = ["CLASS_LOSSES", "OverfitObserver"]
