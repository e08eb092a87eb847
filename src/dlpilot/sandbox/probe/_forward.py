"""Forward passes: each top-level model call, its context, its modules' modes and its inputs.

A top-level call is the outermost module call with parameters (not a loss). It is counted in a
bucket: the model and its context (the loader whose batch is current, or, outside any loader,
whether grad is enabled). Per bucket: forwards with grad / without, forwards with a dropout or
batch-norm module in training mode, input statistics on sampled steps (finite, RMS, range,
constant batches) and digests of its input rows, from which the train / validation overlap is
measured at the end. Training forwards are kept in a window that the backward observer judges
once a backward has run through them (:meth:`ForwardObserver.take_window`). The first layer's
input and the first / last weight layers (for the gradient ratio) are found here too.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ._activations import ActivationObserver
from ._context import RunContext
from ._loaders import LoaderObserver
from ._modules import ModuleIndex
from ._overfit import OverfitObserver
from ._schema import MAX_NAMES, BucketSummary, FirstLayerInput, Overlap, Role
from ._tensors import first_tensor, grad_nodes, row_digests, tensor_id

MAX_ROWS_PER_BUCKET = 4096
"""Input rows hashed per (model, loader) bucket for the train/validation overlap check."""

MAX_STAT_BATCHES = 256
"""Batches whose input statistics are taken per bucket (and for the first layer's input)."""

MAX_BUCKETS = 64
"""(model, context) buckets followed."""

MAX_WINDOW = 16
"""Training forwards kept between two backward passes (an ensemble, several encoders)."""

MAX_LAYER_ORDER = 10_000
"""Weight layers listed in call order, to find the first and the last."""

FORWARDS_PER_STEP_CAP = 20
"""A script that runs forward passes without training is stopped after this many per step bound."""

OVERLAP_PASS_MIN = 8
"""A no-grad pass outside any loader made of training rows, at least this many, ..."""

OVERLAP_PASS_TRAIN_SHARE = 0.9
"""...of which at least this share were seen in training (the probe hashes only sampled
training batches), is a pass over training data (training accuracy), not a leak. A leak from
two unrelated random splits shares about the training fraction (0.8 for 80/20), below this."""

_MODE_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.dropout._DropoutNd,
    nn.modules.batchnorm._BatchNorm,
)
_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)

BucketKey = tuple[int, int | None, bool | None]
"""(top-level model, loader id or None, grad enabled when outside a loader else None)."""


@dataclass
class Forward:
    """One top-level call."""

    top: nn.Module
    grad: bool
    ctx: int | None
    step: int
    train_mode: int = 0
    train_mode_mods: list[nn.Module] = field(default_factory=list)
    eval_mods: list[nn.Module] = field(default_factory=list)
    fp16: bool = False
    calls: dict[int, int] = field(default_factory=dict)
    # whether a backward ran through this forward's output (hooks on its autograd nodes);
    # ``hooked`` False when no output tensor had a node to hook, so it cannot be told
    hooked: bool = False
    hit: bool = False

    @property
    def key(self) -> BucketKey:
        return (id(self.top), self.ctx, None if self.ctx is not None else self.grad)


@dataclass
class _Bucket:
    """Forwards of one model in one context (a loader, or none with grad on / off)."""

    n: int = 0
    grad: int = 0
    nograd: int = 0
    train_mode: int = 0
    nograd_train_mode: int = 0
    train_mode_names: list[str] = field(default_factory=list)
    first_step: int | None = None
    rows: set[str] = field(default_factory=set)
    # no-grad passes outside any loader: (the input tensor's identity, its row digests), judged
    # at the end (a pass over a training tensor is a training metric, not a leak)
    passes: list[tuple[tuple[Any, ...], set[str]]] = field(default_factory=list)
    constant_rows: int = 0
    stats_n: int = 0
    nonfinite: int = 0
    nonfinite_step: int | None = None
    rms_max: float = 0.0
    absmax: float = 0.0
    constant_batches: int = 0
    float_input: bool = False
    dtype: str = ""
    shape: list[int] = field(default_factory=list)


class ForwardObserver:
    """Global module forward pre / post hooks: top-level calls, buckets, inputs, layer order."""

    def __init__(
        self,
        ctx: RunContext,
        modules: ModuleIndex,
        loaders: LoaderObserver,
        acts: ActivationObserver,
        overfit: OverfitObserver,
    ) -> None:
        self.ctx = ctx
        self.modules = modules
        self.loaders = loaders
        self.acts = acts
        self.overfit = overfit
        self._stack: list[nn.Module] = []
        self._fw: Forward | None = None
        self._window: list[Forward] = []
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._layer_order: list[tuple[str, torch.Tensor]] | None = None
        self.first_layer: tuple[str, torch.Tensor] | None = None
        """The first weight layer (2-D or more, trainable) a training forward ran."""
        self.last_layer: tuple[str, torch.Tensor] | None = None
        self._first_layer_module: weakref.ref[nn.Module] | None = None
        self._first_layer_norm = False
        self._first_in: dict[str, Any] = {"n": 0, "rms_max": 0.0, "absmax": 0.0, "type": None}

    def install(self) -> None:
        mm = nn.modules.module
        self.ctx.on_undo(mm.register_module_forward_pre_hook(self._on_pre).remove)
        self.ctx.on_undo(mm.register_module_forward_hook(self._on_post).remove)

    def reset(self) -> None:
        """A batch or a backward begins: no forward is running any more."""
        self._stack.clear()
        self._fw = None
        self.acts.stop()

    def current_top(self) -> nn.Module | None:
        """The model whose top-level forward is running now (None between forwards)."""
        fw = self._fw
        return fw.top if fw is not None else None

    def innermost(self) -> nn.Module | None:
        """The innermost module whose forward is running now."""
        return self._stack[-1] if self._stack else None

    def take_window(self) -> list[Forward]:
        """The training forwards since the last backward (and a fresh window)."""
        window, self._window = self._window, []
        return window

    # --- hooks ----------------------------------------------------------------------------------

    def _on_pre(self, module: nn.Module, args: tuple[Any, ...]) -> Any:
        ctx = self.ctx
        if not ctx.mine():
            return None
        stack = self._stack
        if not stack:
            ctx.check()
            stack.append(module)
            if self.modules.is_model(module):
                return self._top_start(module, args)
            self._fw = None
            return None
        stack.append(module)
        fw = self._fw
        if fw is None:
            return None
        if isinstance(module, _MODE_TYPES):
            self._note_mode(fw, module)
        if self._layer_order is not None and fw.grad:
            w = getattr(module, "weight", None)
            wanted = isinstance(w, nn.Parameter) and w.dim() >= 2 and w.requires_grad
            if wanted and len(self._layer_order) < MAX_LAYER_ORDER:
                self._layer_order.append((self.modules.name(module), w))  # type: ignore[arg-type]
        has_own = fw.grad and next(module.parameters(recurse=False), None) is not None
        if self._first_layer_module is None and has_own:
            self._first_layer_module = weakref.ref(module)
            self._first_layer_norm = isinstance(module, _NORM_TYPES)
            self._first_in["type"] = type(module).__name__
        if (
            ctx.sampled
            and fw.grad
            and not ctx.overfit
            and not self._first_layer_norm
            and self._first_layer_module is not None
            and self._first_layer_module() is module
        ):
            try:
                self._first_layer_stats(args)
            except Exception as exc:
                ctx.internal("first-layer", exc)
        if ctx.overfit:
            self.overfit.module_pre(module)
        return None

    def _on_post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not self.ctx.mine():
            return
        stack = self._stack
        if stack and stack[-1] is module:
            stack.pop()
        else:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] is module:
                    del stack[i:]
                    break
        if not stack and self._fw is not None and self._fw.top is module:
            self._top_end(self._fw, output)

    def _note_mode(self, fw: Forward, m: nn.Module) -> None:
        if isinstance(m, nn.modules.dropout._DropoutNd) and float(getattr(m, "p", 0.0)) == 0.0:
            return
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.track_running_stats:
            return
        if m.training:
            fw.train_mode += 1
            if len(fw.train_mode_mods) < 4:
                fw.train_mode_mods.append(m)
        elif len(fw.eval_mods) < 8:
            fw.eval_mods.append(m)

    def _top_start(self, module: nn.Module, args: tuple[Any, ...]) -> Any:
        ctx = self.ctx
        grad = torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
        current = self.loaders.current
        fw = Forward(
            top=module,
            grad=grad,
            ctx=current.lid if current is not None else None,
            step=ctx.count(),
        )
        self._fw = fw
        ctx.forwards += 1
        if ctx.forwards > FORWARDS_PER_STEP_CAP * max(ctx.cfg.max_steps, 1) + 1000:
            ctx.stop("steps")
        self.modules.index_top(module)
        if grad:
            fw.fp16 = any(
                torch.is_autocast_enabled(dev) and torch.get_autocast_dtype(dev) == torch.float16
                for dev in ("cuda", "cpu")
            )
            if ctx.sampled and not ctx.overfit:
                self.acts.start(fw.calls, self._stack)
            else:
                self.acts.stop()
            if self.first_layer is None and self._layer_order is None:
                self._layer_order = []
        if ctx.overfit:
            return self.overfit.forward_args(module, args) if grad else None
        try:
            self._input_stats(fw, args)
        except Exception as exc:
            ctx.internal("input-stats", exc)
        return None

    def _top_end(self, fw: Forward, output: Any) -> None:
        self._fw = None
        self.acts.stop()
        if self._layer_order is not None and fw.grad:
            if self._layer_order:
                self.first_layer = self._layer_order[0]
                self.last_layer = self._layer_order[-1]
            self._layer_order = None
        b = self._bucket(fw.key)
        b.n += 1
        if fw.grad:
            b.grad += 1
        else:
            b.nograd += 1
        if fw.train_mode:
            b.train_mode += 1
            if not fw.grad:
                b.nograd_train_mode += 1
            if b.first_step is None:
                b.first_step = fw.step
                if not fw.grad or fw.ctx is not None:
                    self.ctx.mark(f"train_mode:{fw.ctx}:{fw.grad}")
            for m in fw.train_mode_mods:
                name = self.modules.name(m)
                if name not in b.train_mode_names and len(b.train_mode_names) < MAX_NAMES:
                    b.train_mode_names.append(name)
        if fw.grad and len(self._window) < MAX_WINDOW:
            self._window.append(fw)
            self._hook_output(fw, output)

    def _hook_output(self, fw: Forward, output: Any) -> None:
        """Mark ``fw`` when a backward later runs through its output: only the forwards that
        built a backward's graph are judged with it (a validation pass that builds a graph in
        eval mode and is never back-propagated is not a training step)."""

        def hit(grad_outputs: Any) -> None:
            fw.hit = True

        try:
            for node in grad_nodes(output):
                node.register_prehook(hit)
                fw.hooked = True
        except (AttributeError, RuntimeError, TypeError) as exc:
            self.ctx.internal("output-hook", exc)

    def _bucket(self, key: BucketKey) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = _Bucket()
            if len(self._buckets) < MAX_BUCKETS:
                self._buckets[key] = b
        return b

    # --- inputs ---------------------------------------------------------------------------------

    def _input_stats(self, fw: Forward, args: tuple[Any, ...]) -> None:
        x = first_tensor(args)
        if x is None or x.dim() == 0:
            return
        b = self._bucket(fw.key)
        current = self.loaders.current
        in_val_loader = current is not None and current.kind != "train"
        if not (self.ctx.sampled or in_val_loader or not fw.grad):
            return
        if b.stats_n >= MAX_STAT_BATCHES:
            return
        b.dtype = str(x.dtype).replace("torch.", "")
        b.shape = list(x.shape)[:6]
        b.float_input = x.is_floating_point()
        xd = x.detach()
        if xd.is_floating_point():
            xf = xd.float()
            vals = torch.stack(
                [
                    torch.isfinite(xf).all().float(),
                    xf.pow(2).mean().sqrt(),
                    xf.abs().max(),
                    xf.min(),
                    xf.max(),
                ]
            ).tolist()
            finite, rms, absmax, lo, hi = vals
            if not finite:
                b.nonfinite += 1
                if b.nonfinite_step is None:
                    b.nonfinite_step = fw.step
            else:
                b.rms_max = max(b.rms_max, rms)
                b.absmax = max(b.absmax, absmax)
        elif xd.numel():
            lo, hi = torch.stack([xd.min(), xd.max()]).tolist()
        else:
            return
        b.stats_n += 1
        if lo == hi and xd.numel() > 1:
            b.constant_batches += 1
        seen = len(b.rows) + sum(len(rows) for _, rows in b.passes)
        if seen < MAX_ROWS_PER_BUCKET:
            got, constant = row_digests(x, args, MAX_ROWS_PER_BUCKET - seen)
            b.constant_rows += constant
            if fw.ctx is None and not fw.grad:
                b.passes.append((tensor_id(x), got))
            else:
                b.rows |= got

    def _first_layer_stats(self, args: tuple[Any, ...]) -> None:
        x = first_tensor(args)
        if x is None or not x.is_floating_point() or self._first_in["n"] >= MAX_STAT_BATCHES:
            return
        xf = x.detach().float()
        fin, rms, absmax = torch.stack(
            [torch.isfinite(xf).all().float(), xf.pow(2).mean().sqrt(), xf.abs().max()]
        ).tolist()
        if not fin:
            return
        fi = self._first_in
        fi["n"] += 1
        fi["rms_max"] = max(fi["rms_max"], rms)
        fi["absmax"] = max(fi["absmax"], absmax)

    # --- summary --------------------------------------------------------------------------------

    def role(self, ctx: int | None, grad: bool | None) -> Role:
        """Training or validation: the loader's role, or outside any loader, grad on or off."""
        if ctx is None:
            return "train" if grad else "val"
        return self.loaders.role(ctx)

    def buckets(self) -> list[BucketSummary]:
        out: list[BucketSummary] = []
        for (top, ctx, grad), b in self._buckets.items():
            out.append(
                {
                    "top": top,
                    "trained": top in self.modules.trained_tops,
                    "ctx": ctx,
                    "ctx_kind": self.loaders.role(ctx) if ctx is not None else None,
                    "grad_ctx": grad,
                    "role": self.role(ctx, grad),
                    "n": b.n,
                    "grad": b.grad,
                    "nograd": b.nograd,
                    "train_mode": b.train_mode,
                    "nograd_train_mode": b.nograd_train_mode,
                    "train_mode_names": b.train_mode_names,
                    "first_step": b.first_step,
                    "stats_n": b.stats_n,
                    "nonfinite": b.nonfinite,
                    "nonfinite_step": b.nonfinite_step,
                    "rms_max": b.rms_max,
                    "absmax": b.absmax,
                    "constant_batches": b.constant_batches,
                    "float_input": b.float_input,
                    "dtype": b.dtype,
                    "shape": b.shape,
                    "rows": len(b.rows),
                    "constant_rows": b.constant_rows,
                }
            )
        return out

    def overlap(self) -> Overlap:
        """Input rows of the trained models seen both in training and in validation."""
        train: set[str] = set()
        val: set[str] = set()
        passes: list[tuple[tuple[Any, ...], set[str]]] = []
        for (top, ctx, grad), b in self._buckets.items():
            if top not in self.modules.trained_tops:
                continue
            role = self.role(ctx, grad)
            if role == "train":
                train |= b.rows
            elif role == "val":
                val |= b.rows
                passes.extend(b.passes)
        # A no-grad pass outside any loader over an array a training dataset holds, or made of
        # training rows (the whole graph of a full-batch GNN, training accuracy on the training
        # tensor), measures training metrics; only the other passes are validation. (Batch
        # tensors are not compared by address: a freed batch's memory is reused.)
        train_tensors = self.loaders.train_tensors()
        over_train = 0
        for tid, rows in passes:
            shared = len(rows & train)
            if tid in train_tensors or (
                len(rows) >= OVERLAP_PASS_MIN and shared >= OVERLAP_PASS_TRAIN_SHARE * len(rows)
            ):
                over_train += 1
                continue
            val |= rows
        both = train & val
        return {
            "train_rows": len(train),
            "val_rows": len(val),
            "shared_rows": len(both),
            "passes_over_training_data": over_train,
        }

    def first_layer_input(self) -> FirstLayerInput:
        fi = self._first_in
        return {
            "n": fi["n"],
            "rms_max": fi["rms_max"],
            "absmax": fi["absmax"],
            "type": fi["type"],
            "normalizes": self._first_layer_norm,
        }


__all__ = ["Forward", "ForwardObserver"]
