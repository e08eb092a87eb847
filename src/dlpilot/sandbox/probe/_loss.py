"""Losses: the ``torch.nn.functional`` loss functions wrapped, their inputs and values judged.

Every class loss (``cross_entropy``, ``nll_loss``) and elementwise loss (MSE, L1, BCE, ...)
goes through here, whether called directly or by its ``nn`` module. Before the call, on sampled
steps (and the first calls): label range and dtype, probabilities or log-probabilities fed to
cross-entropy, values in [0, 1] fed to a with-logits BCE, broadcasting shapes, class counts and
label order of training batches, float target ranges. After it: the first class loss's value
(against ln C), non-finite and negative values. Observations that may precede a crash (a label
out of range) are written at once as ``obs`` events. The backward's root value is reported by
the backward observer (:meth:`LossObserver.note_backward_value`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ._context import RunContext
from ._overfit import CLASS_LOSSES, OverfitObserver
from ._retained import RetainedGraphs
from ._schema import Labels, LossEvidence
from ._tensors import arg

LABEL_BATCHES = 64
"""Training batches whose label range and order are kept (label-sorted data check)."""

MAX_CLASSES = 1000
"""Class counts are kept for at most this many classes."""

CHECKED_FIRST_CALLS = 20
"""Calls of each loss checked whatever the sampling (a crash on a bad label comes early)."""

OBS_PER_KIND = 3
"""``obs`` events written per kind."""

PAD_SHARE = 0.35
"""Share of a batch's sequence targets the most common id must cover to be taken for padding: a
sequence batch padded to its longest row is rarely under a third padding."""

PAD_EDGE_SHARE = 0.9
"""Share of that id's occurrences that must sit in runs touching a row's end (or start): padding
does, a majority class spread through the rows does not."""

PAD_MIN_TOKENS = 4
"""Time steps a target row needs before its padding is judged."""

SUM_TOL = 1e-3
"""Tolerance of "sums to 1" for (log-)probabilities along a dimension (float32 softmax sums to 1
within about 1e-6 per class)."""

ROW_SUM_OFF = 1e-2
"""How far the class-dimension sums must stray from 1 for a softmax to be over another dimension."""

ELEMENTWISE_LOSSES = (
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
)
NONNEGATIVE_LOSSES = (*CLASS_LOSSES, *ELEMENTWISE_LOSSES)
WRAPPED_LOSSES = (*CLASS_LOSSES, *ELEMENTWISE_LOSSES, "kl_div")


class LossObserver:
    """Wraps the functional losses; owns the ``loss`` and ``labels`` parts of the summary."""

    def __init__(self, ctx: RunContext, retained: RetainedGraphs, replay: OverfitObserver) -> None:
        self.ctx = ctx
        self.retained = retained
        self.replay = replay
        self.loss_calls: dict[str, int] = {}
        self.ev: LossEvidence = {
            "first_class_loss": None,
            "ce_sampled": 0,
            "ce_prob_like": 0,
            "ce_logprob_like": 0,
            "ce_example": None,
            "bcel_sampled": 0,
            "bcel_unit": 0,
            "bcel_numel": 0,
            "bcel_example": None,
            "nonfinite_step": None,
            "nonfinite_fn": None,
            "negative": None,
            "values": 0,
        }
        self._obs_counts: dict[str, int] = {}
        self._label_batches: list[list[float]] = []
        self._class_counts: torch.Tensor | None = None
        self._ignored_classes: set[int] = set()  # ignore_index values that are class ids
        self._class_n = 0
        self._bin: dict[str, float] = {"pos": 0.0, "n": 0.0}
        self._target_float: dict[str, Any] = {"n": 0, "min": None, "max": None, "nonfinite": 0}

    def install(self) -> None:
        for name in WRAPPED_LOSSES:
            if hasattr(F, name):
                self.ctx.patch(F, name, self._maker(name))

    def _maker(self, name: str) -> Callable[[Any], Any]:
        return lambda orig: self._wrap(name, orig)

    def _observe(self, kind: str, **detail: Any) -> None:
        n = self._obs_counts.get(kind, 0)
        self._obs_counts[kind] = n + 1
        if n < OBS_PER_KIND:
            self.ctx.mark("obs:" + kind)
            where = self.ctx.where.get("obs:" + kind)
            self.ctx.w.write("obs", kind=kind, step=self.ctx.count(), where=where, detail=detail)

    def _wrap(self, name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        def loss_fn(*args: Any, **kwargs: Any) -> Any:
            if not self.ctx.mine():
                return orig(*args, **kwargs)
            self.ctx.check()
            return self._call(name, orig, args, kwargs)

        loss_fn.__wrapped__ = orig  # type: ignore[attr-defined]
        loss_fn.__name__ = name
        loss_fn.__doc__ = orig.__doc__
        return loss_fn

    def _call(
        self, name: str, orig: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.loss_calls[name] = self.loss_calls.get(name, 0) + 1
        inp = arg(args, kwargs, "input", 0, None)
        tgt = arg(args, kwargs, "target", 1, None)
        if not isinstance(inp, torch.Tensor) or not isinstance(tgt, torch.Tensor):
            return orig(*args, **kwargs)
        training = torch.is_grad_enabled() and inp.requires_grad
        if self.ctx.overfit and training:
            args, kwargs, tgt = self.replay.loss_args(name, args, kwargs, inp, tgt)
        sample = self.ctx.sampled and not self.ctx.overfit
        if sample or (not self.ctx.overfit and self.loss_calls[name] <= CHECKED_FIRST_CALLS):
            try:
                self._pre_checks(name, inp, tgt, args, kwargs, training)
            except Exception as exc:
                self.ctx.internal("loss-checks", exc)
        out = orig(*args, **kwargs)
        if not isinstance(out, torch.Tensor):
            return out
        if training and out.grad_fn is not None and not self.ctx.overfit:
            self.retained.attach(out, self.ctx.count())
        if self.ctx.overfit and training:
            try:
                self.replay.accuracy(name, inp, tgt, args, kwargs)
            except Exception as exc:
                self.ctx.internal("accuracy", exc)
        first = self.ev["first_class_loss"] is None and name in CLASS_LOSSES and training
        if (sample or first) and out.numel() == 1:
            value = float(out.detach())
            self._note_value(name, value, training)
            if first:
                classes = int(inp.shape[1]) if inp.dim() >= 2 else int(inp.shape[0])
                reduction = arg(args, kwargs, "reduction", 6, "mean")
                self.ev["first_class_loss"] = {
                    "fn": name,
                    "value": value,
                    "classes": classes,
                    "reduction": reduction,
                    "step": self.ctx.count(),
                }
        return out

    def _note_value(self, name: str, value: float, training: bool) -> None:
        ev = self.ev
        ev["values"] += 1
        if not math.isfinite(value):
            if ev["nonfinite_step"] is None:
                ev["nonfinite_step"] = self.ctx.count()
                ev["nonfinite_fn"] = name
                self.ctx.mark("loss_nonfinite")
        elif name in NONNEGATIVE_LOSSES and value < -1e-6 and ev["negative"] is None:
            ev["negative"] = {"fn": name, "value": value, "step": self.ctx.count()}
            self.ctx.mark("loss_negative")

    def _pre_checks(
        self,
        name: str,
        inp: torch.Tensor,
        tgt: torch.Tensor,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        training: bool,
    ) -> None:
        x = inp.detach()
        if name in CLASS_LOSSES:
            if tgt.is_floating_point():
                if tgt.dim() == x.dim() - 1 or (x.dim() == 1 and tgt.dim() == 0):
                    self._observe(
                        "label-dtype",
                        fn=name,
                        target_dtype=str(tgt.dtype),
                        target_shape=list(tgt.shape),
                        input_shape=list(x.shape),
                    )
                return
            if tgt.dtype == torch.bool:
                return
            classes = int(x.shape[1]) if x.dim() >= 2 else int(x.shape[0])
            ignore = arg(args, kwargs, "ignore_index", 4, -100)
            t = tgt.detach()
            if training:
                self._padding_check(name, tgt, ignore)  # not detached: its view base is kept
            if x.is_floating_point() and x.dim() == 2 and x.shape[0] > 1 and classes > 1:
                self._softmax_dim_check(name, x)
            valid = t[t != ignore] if t.numel() else t
            if valid.numel() == 0:
                return
            vec = [valid.min(), valid.max()]
            if t.dim() == 1 and t.numel() > 1:
                vec.append((t[1:] >= t[:-1]).all().to(valid.dtype))
            vals = torch.stack(vec).tolist()
            lo, hi = vals[0], vals[1]
            if lo < 0 or hi >= classes:
                self._observe(
                    "label-out-of-range",
                    fn=name,
                    min=lo,
                    max=hi,
                    classes=classes,
                    ignore_index=ignore,
                )
            elif training:
                if len(self._label_batches) < LABEL_BATCHES and len(vals) == 3:
                    self._label_batches.append([lo, hi, vals[2], float(t.numel())])
                if classes <= MAX_CLASSES:
                    if isinstance(ignore, int) and 0 <= ignore < classes:
                        self._ignored_classes.add(ignore)  # padding: never a target by design
                    counts = torch.bincount(valid.reshape(-1).long(), minlength=classes)[:classes]
                    if self._class_counts is None or self._class_counts.numel() != classes:
                        self._class_counts = counts
                    else:
                        self._class_counts = self._class_counts + counts
                    self._class_n += 1
            if x.is_floating_point() and x.dim() >= 2 and classes >= 2:
                xf = x.float()
                s = xf.sum(1)
                lse = xf.logsumexp(1)
                mn, mx, dev, lsedev = torch.stack(
                    [xf.min(), xf.max(), (s - 1).abs().max(), lse.abs().max()]
                ).tolist()
                ev = self.ev
                ev["ce_sampled"] += 1
                prob = mn >= 0.0 and mx <= 1.0 and dev < 1e-3
                logprob = mx <= 1e-6 and lsedev < 1e-3
                if name == "cross_entropy" and (prob or logprob):
                    self.ctx.mark("ce_input")
                if name == "cross_entropy" and prob:
                    ev["ce_prob_like"] += 1
                if name == "cross_entropy" and logprob:
                    ev["ce_logprob_like"] += 1
                if ev["ce_example"] is None or prob or logprob:
                    ev["ce_example"] = {
                        "fn": name,
                        "min": mn,
                        "max": mx,
                        "row_sum_dev": dev,
                        "logsumexp_dev": lsedev,
                    }
            return
        # elementwise losses
        if name in ELEMENTWISE_LOSSES or name == "kl_div":
            if not tgt.is_floating_point() and name != "kl_div":
                self._observe(
                    "label-dtype",
                    fn=name,
                    target_dtype=str(tgt.dtype),
                    target_shape=list(tgt.shape),
                    input_shape=list(x.shape),
                )
            if x.shape != tgt.shape:
                try:
                    shape = torch.broadcast_shapes(x.shape, tgt.shape)  # type: ignore[no-untyped-call]
                except RuntimeError:
                    shape = None
                if shape is not None:
                    n = math.prod(shape)
                    if n > max(x.numel(), tgt.numel()):
                        self._observe(
                            "shape-broadcast",
                            fn=name,
                            input_shape=list(x.shape),
                            target_shape=list(tgt.shape),
                            broadcast_shape=list(shape),
                        )
            if name == "binary_cross_entropy_with_logits" and x.numel():
                mn, mx = torch.stack([x.min(), x.max()]).float().tolist()
                ev = self.ev
                ev["bcel_sampled"] += 1
                ev["bcel_numel"] += int(x.numel())
                if mn >= 0.0 and mx <= 1.0:
                    self.ctx.mark("bcel_input")
                    ev["bcel_unit"] += 1
                    ev["bcel_example"] = {"min": mn, "max": mx, "numel": int(x.numel())}
            if name.startswith("binary_cross_entropy") and tgt.numel():
                lo_t, hi_t = torch.stack([tgt.detach().min(), tgt.detach().max()]).float().tolist()
                if lo_t < 0.0 or hi_t > 1.0:
                    self._observe("bce-target-range", fn=name, min=lo_t, max=hi_t)
            if training and tgt.is_floating_point() and tgt.numel():
                td = tgt.detach().float()
                fin, lo, hi, pos = torch.stack(
                    [torch.isfinite(td).all().float(), td.min(), td.max(), (td > 0.5).float().sum()]
                ).tolist()
                tf = self._target_float
                tf["n"] += 1
                if not fin:
                    tf["nonfinite"] += 1
                else:
                    tf["min"] = lo if tf["min"] is None else min(tf["min"], lo)
                    tf["max"] = hi if tf["max"] is None else max(tf["max"], hi)
                if name.startswith("binary_cross_entropy") and fin:
                    self._bin["pos"] += pos
                    self._bin["n"] += float(td.numel())

    def _softmax_dim_check(self, name: str, x: torch.Tensor) -> None:
        """(Log-)probabilities that sum to 1 over the batch (dim 0) and not over the classes."""
        xf = x.float()
        for p, kind in ((xf.exp(), "log_softmax"), (xf, "softmax")):
            if kind == "softmax" and not bool(((xf >= 0) & (xf <= 1)).all()):
                continue
            col, row = torch.stack(
                [(p.sum(0) - 1).abs().max(), (p.sum(1) - 1).abs().max()]
            ).tolist()
            if col < SUM_TOL and row > ROW_SUM_OFF:
                self._observe(
                    "softmax-wrong-dim",
                    fn=name,
                    act=kind,
                    input_shape=list(x.shape),
                    batch_sum_dev=col,
                    class_sum_dev=row,
                )
                return

    def _padding_check(self, name: str, t: torch.Tensor, ignore: Any) -> None:
        """Sequence targets mostly one id, in runs at the rows' ends, that the loss counts."""
        rows = t
        base = t._base  # a flattened (N, T) target is a view of it, or of the rows it slices
        if t.dim() == 1 and isinstance(base, torch.Tensor) and base.dim() == 2:
            width = int(base.shape[-1])
            offset = t.storage_offset() - base.storage_offset()
            if (
                width > 0
                and base.is_contiguous()
                and t.stride() == (1,)
                and t.numel() % width == 0
                and offset % width == 0
            ):
                rows = t.view(-1, width)
        if rows.dim() != 2 or rows.shape[-1] < PAD_MIN_TOKENS or rows.numel() < 2 * PAD_MIN_TOKENS:
            return  # (N, T) sequences only: a segmentation mask's background also meets the edges
        values, counts = torch.unique(rows, return_counts=True)
        top = int(counts.argmax())
        pad, n = int(values[top]), int(counts[top])
        if pad == ignore or n < PAD_SHARE * rows.numel():
            return
        hit = rows == pad
        # runs touching the row's end (trailing) or its start (leading)
        trailing = hit.flip(-1).int().cumprod(-1).sum()
        leading = hit.int().cumprod(-1).sum()
        edge = int(torch.maximum(trailing, leading))
        if edge >= PAD_EDGE_SHARE * n:
            self._observe(
                "padding-not-ignored",
                fn=name,
                pad_id=pad,
                share=n / rows.numel(),
                edge_share=edge / n,
                ignore_index=ignore,
                target_shape=list(rows.shape),
            )

    def note_backward_value(self, value: float, scaled: bool) -> None:
        """The value a backward started from (unscaled): the first non-finite one is noted."""
        if not math.isfinite(value) and self.ev["nonfinite_step"] is None and not scaled:
            self.ev["nonfinite_step"] = self.ctx.count()
            self.ev["nonfinite_fn"] = "backward"

    def summary(self) -> LossEvidence:
        return self.ev

    def labels(self) -> Labels:
        classes = None
        if self._class_counts is not None:
            classes = [int(c) for c in self._class_counts.tolist()]
        tf = self._target_float
        return {
            "batches": self._label_batches,
            "class_counts": classes,
            "ignored_classes": sorted(self._ignored_classes),
            "class_batches": self._class_n,
            "binary": {"pos": self._bin["pos"], "n": self._bin["n"]},
            "target_float": {
                "n": tf["n"],
                "min": tf["min"],
                "max": tf["max"],
                "nonfinite": tf["nonfinite"],
            },
        }


__all__ = ["LossObserver"]
