"""Backward passes: what each backward ran through, and the training-loop evidence around it.

``torch.autograd.backward`` (which ``Tensor.backward`` calls) is wrapped. Before it: a graph
back-propagated twice in one step, the loss value (unscaled when a ``GradScaler`` scaled it),
the loss graph followed for retention, the zeroing state of each optimizer. After it: the
forwards whose output the backward reached are judged (dropout / batch norm in eval mode while
training, fp16 autocast without a scaler), and without an optimizer, the step ends here (manual
updates are detected by comparing the parameters with the first backward's copy).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, cast

import torch

from ._context import RunContext
from ._forward import Forward, ForwardObserver
from ._grads import GradientObserver
from ._loaders import LoaderObserver
from ._loss import LossObserver
from ._modules import ModuleIndex
from ._optim import CHANGE_SNAPSHOT_ELEMENTS, OptimizerObserver
from ._overfit import OverfitObserver
from ._retained import RetainedGraphs
from ._schema import MAX_NAMES, Amp, ModeEvidence
from ._tensors import Snapshot, changed, first_tensor, snapshot_params

BACKWARDS_PER_STEP_CAP = 4
"""A script that runs backward passes without stepping its optimizer is stopped after this many
per step bound (gradient accumulation stays far below)."""


MAX_LOADER_ROWS = 32
"""Loaders whose backwards are counted by mode (the loader observer's own cap)."""


class BackwardObserver:
    """Wraps the backward and the GradScaler; owns ``mode``, ``amp`` and the backward part of
    ``loop``."""

    def __init__(
        self,
        ctx: RunContext,
        modules: ModuleIndex,
        forward: ForwardObserver,
        loaders: LoaderObserver,
        optim: OptimizerObserver,
        grads: GradientObserver,
        loss: LossObserver,
        retained: RetainedGraphs,
        replay: OverfitObserver,
    ) -> None:
        self.ctx = ctx
        self.modules = modules
        self.forward = forward
        self.loaders = loaders
        self.optim = optim
        self.grads = grads
        self.loss = loss
        self.retained = retained
        self.replay = replay
        self._window: list[Forward] = []  # the forwards of the backward now running
        self._count = 0
        self._scaled: dict[int, float] = {}
        self._manual_snapshot: Snapshot | None = None
        self._step_losses: list[float] = []
        self.backward_twice = 0
        self.backward_twice_first_step: int | None = None
        self.manual_update: bool | None = None
        self.mode: ModeEvidence = {
            "train_backwards": 0,
            "eval_backwards": 0,
            "eval_first_step": None,
            "eval_names": [],
            "loaders": [],
        }
        self._lid: int | None = None  # the loader whose batch the running backward came from
        self.amp: Amp = {"fp16_backwards": 0, "fp16_first_step": None, "scaler": False}

    def install(self) -> None:
        self.ctx.patch(torch.autograd, "backward", self._wrap_backward)
        scaler_cls = getattr(torch.amp, "GradScaler", None)
        if scaler_cls is not None:
            self.ctx.patch(scaler_cls, "scale", self._wrap_scale)

    def take_step_losses(self) -> list[float]:
        """The loss values back-propagated since the last step ended (and a fresh list)."""
        losses, self._step_losses = self._step_losses, []
        return losses

    def _wrap_scale(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def scale(scaler: Any, outputs: Any) -> Any:
            out = orig(scaler, outputs)
            if self.ctx.mine() and getattr(scaler, "is_enabled", lambda: False)():
                self.amp["scaler"] = True
                if isinstance(out, torch.Tensor):
                    with contextlib.suppress(RuntimeError, TypeError, ValueError):
                        self._scaled = {id(out): float(scaler.get_scale())}
            return out

        return scale

    def _wrap_backward(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.ctx.mine():
                return orig(tensors, *args, **kwargs)
            self.ctx.check()
            root = tensors if isinstance(tensors, torch.Tensor) else first_tensor(tensors)
            try:
                self._before(root)
            except Exception as exc:
                self.ctx.internal("before-backward", exc)
            result = orig(tensors, *args, **kwargs)
            try:
                self._after()
            except Exception as exc:
                self.ctx.internal("after-backward", exc)
            return result

        return backward

    def _before(self, root: torch.Tensor | None) -> None:
        ctx = self.ctx
        self.forward.reset()
        count = ctx.count()
        if root is not None and root.grad_fn is not None:
            node = root.grad_fn
            try:
                md = cast(dict[str, Any], node.metadata)
                seen = md.get("dlpilot_backward")
                if seen is not None and seen == ctx.steps:
                    self.backward_twice += 1
                    if self.backward_twice_first_step is None:
                        self.backward_twice_first_step = count
                        ctx.mark("backward_twice")
                md["dlpilot_backward"] = ctx.steps
            except (AttributeError, RuntimeError, TypeError):
                pass
            if not ctx.overfit and root.requires_grad:
                self.retained.attach(root, count)
        if root is not None and root.numel() == 1:
            value = float(root.detach())
            scale = self._scaled.pop(id(root), None)
            if scale:
                value = value / scale
            self._step_losses.append(value)
            self.loss.note_backward_value(value, bool(scale))
        self.optim.before_backward()
        # the forwards since the last backward, judged once this one has run (see _judge)
        self._window = self.forward.take_window()
        self._count = count
        current = self.loaders.current
        self._lid = current.lid if current is not None else None
        self.loaders.on_backward()
        # manual updates (no optimizer): compare the parameters with the first backward's copy
        if ctx.steps == 0 and ctx.backwards >= 1 and self._manual_snapshot is not None:
            nb = ctx.backwards
            if nb & (nb - 1) == 0 and self.manual_update is not True:
                self.manual_update = changed(self._manual_snapshot) > 0

    def _judge(self, count: int) -> None:
        """Mode and precision of the forwards that built the graph just back-propagated."""
        window = [fw for fw in self._window if fw.hit or not fw.hooked]
        self._window = []
        flagged: list[str] = []
        fp16 = False
        for fw in window:
            self.modules.trained_tops.add(id(fw.top))
            fp16 = fp16 or fw.fp16
            for m in fw.eval_mods:
                if not self.modules.is_frozen(m):
                    flagged.append(self.modules.name(m))
        if window:
            ev = self.mode
            ev["train_backwards"] += 1
            if flagged:
                ev["eval_backwards"] += 1
                if ev["eval_first_step"] is None:
                    ev["eval_first_step"] = count
                    self.ctx.mark("eval_during_training")
                for n in flagged:
                    if n not in ev["eval_names"] and len(ev["eval_names"]) < MAX_NAMES:
                        ev["eval_names"].append(n)
        if window and self._lid is not None:
            top_eval = any(not fw.top.training for fw in window)
            self._per_loader(self._lid, top_eval, bool(flagged))
        if fp16:
            self.amp["fp16_backwards"] += 1
            if self.amp["fp16_first_step"] is None:
                self.amp["fp16_first_step"] = count
                self.ctx.mark("fp16_backward")

    def _per_loader(self, lid: int, top_eval: bool, flagged: bool) -> None:
        rows = self.mode["loaders"]
        n = self.ctx.backwards
        row = next((r for r in rows if r[0] == lid), None)
        if row is None:
            if len(rows) >= MAX_LOADER_ROWS:
                return
            row = [lid, 0, 0, 0, 0, n, n]
            rows.append(row)
        row[6] = n
        row[1] += 1
        row[2] += int(top_eval)
        row[3] += int(flagged)

    def note_step(self) -> None:
        """An optimizer stepped: count it for the loader whose batch is current."""
        current = self.loaders.current
        if current is None:
            return
        for row in self.mode["loaders"]:
            if row[0] == current.lid:
                row[4] += 1
                return

    def _after(self) -> None:
        ctx = self.ctx
        self._judge(self._count)
        ctx.backwards += 1
        self.replay.after_backward()
        self.optim.after_backward()
        if ctx.steps == 0 and ctx.backwards == 1:
            self._manual_snapshot = snapshot_params(
                self.modules.trained_params(), CHANGE_SNAPSHOT_ELEMENTS
            )
        if not self.optim.opts:
            if ctx.sampled and not ctx.overfit:
                self.grads.sample(self.modules.trained_params())
            ctx.end_step()
            if ctx.steps == 0:
                ctx.bound(ctx.backwards)
        elif ctx.backwards >= BACKWARDS_PER_STEP_CAP * max(ctx.cfg.max_steps, 1):
            ctx.stop("steps")


__all__ = ["BackwardObserver"]
