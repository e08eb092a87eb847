"""The hooks: what the probe records while the user's script trains, and how it bounds the run.

Everything here runs inside the child, in the user's process, around the user's code. Rules:

* Never change what the script computes in script mode (only observe, and shorten epochs).
* Never sync the device per op: statistics that need a value on the host are taken on *sampled*
  steps only (the first :data:`DENSE_STEPS` steps, then every ``sample_every``-th), and reduced to
  one small host transfer each.
* Keep every aggregate fixed-size (caps below), so the evidence is bounded however long the script
  would train.
* Stop the script by raising :class:`StopProbe` (a ``BaseException``, so ``except Exception`` in
  user code cannot swallow it); once stopping, every hook raises it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.optimizer import (
    Optimizer,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.utils.data import DataLoader

from . import PROBE_VERSION
from ._events import EventWriter
from ._lrtrack import LrTracker
from ._schema import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    DEFAULT_OVERFIT_STEPS,
    DEFAULT_SAMPLE_EVERY,
    DEFAULT_TRAIN_BATCHES,
    DEFAULT_VAL_BATCHES,
    MAX_NAMES,
    MAX_SERIES,
)

# --- caps and sampling (named; each keeps the evidence bounded) ---------------------------------

DENSE_STEPS = 10
"""Every one of the first steps is sampled: most bugs show from the start."""

MAX_STEP_EVENTS = 5000
"""Per-step events written at most (an overfit run of up to this many steps keeps its curve)."""

MAX_TRACKED_PARAMS = 64
"""Parameters per optimizer whose gradient identity is followed step to step (zero-grad checks)."""

MAX_SNAPSHOT_ELEMENTS = 2_000_000
"""Parameter elements copied on a sampled step to measure the update/weight ratio."""

MAX_SITES = 64
"""Activation call sites (ReLU, sigmoid, tanh) followed."""

MAX_ROWS_PER_BUCKET = 4096
"""Input rows hashed per (model, loader) bucket for the train/validation overlap check."""

ROW_HASH_ELEMENTS = 4096
"""Elements hashed per input row (a fixed stride over larger rows)."""

ORDER_BATCHES = 2
"""Batches per epoch whose content hash is kept to compare epoch orders."""

LABEL_BATCHES = 64
"""Training batches whose label range and order are kept (label-sorted data check)."""

MAX_CLASSES = 1000
"""Class counts are kept for at most this many classes."""

MAX_RETAIN_SENTINELS = 24
"""Loss graphs followed for liveness (graphs kept alive across steps)."""

RETAIN_AGE_STEPS = 3
"""A loss graph still alive this many optimizer steps after it was made is retained."""

SATURATION_ABS = 5.0
"""A sigmoid / tanh pre-activation beyond this magnitude is saturated (checks.md)."""

SWALLOW_LIMIT = 20
"""Hooks that may re-raise :class:`StopProbe` after the stop (``finally`` blocks may run a few);
beyond this the script is swallowing it, and the probe ends the process itself."""

OVERLAP_PASS_MIN = 8
"""A no-grad pass outside any loader made of training rows, at least this many, ..."""

OVERLAP_PASS_TRAIN_SHARE = 0.9
"""...of which at least this share were seen in training (the probe hashes only sampled
training batches), is a pass over training data (training accuracy), not a leak. A leak from
two unrelated random splits shares about the training fraction (0.8 for 80/20), below this."""

MAX_REPLAYED_CALLS = 8
"""Top-level calls whose first-step inputs the overfit test replays (a model, a twice-called
encoder, a teacher, ...)."""

FORWARDS_PER_STEP_CAP = 20
"""A script that runs forward passes without training is stopped after this many per step bound."""

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
_LOSS_BASE = nn.modules.loss._Loss
_DLPILOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_CLASS_LOSSES = ("cross_entropy", "nll_loss")
_ELEMENTWISE_LOSSES = (
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
)
_NONNEGATIVE_LOSSES = (*_CLASS_LOSSES, *_ELEMENTWISE_LOSSES)
_LOSS_ARG_POS: dict[str, dict[str, int]] = {
    "cross_entropy": {"weight": 2, "ignore_index": 4, "reduction": 6, "label_smoothing": 7},
    "nll_loss": {"weight": 2, "ignore_index": 4, "reduction": 6},
}


class StopProbe(BaseException):
    """Raised from a hook to stop the user's script once the bound is reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Config:
    mode: str = "script"
    train_batches: int = DEFAULT_TRAIN_BATCHES
    val_batches: int = DEFAULT_VAL_BATCHES
    epochs: int = DEFAULT_EPOCHS
    max_steps: int = DEFAULT_MAX_STEPS
    max_seconds: float = DEFAULT_MAX_SECONDS
    overfit_steps: int = DEFAULT_OVERFIT_STEPS
    sample_every: int = DEFAULT_SAMPLE_EVERY
    roots: tuple[str, ...] = ()
    script: str | None = None


# --- small helpers ------------------------------------------------------------------------------


def _first_tensor(obj: Any, depth: int = 0) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if depth > 3:
        return None
    if isinstance(obj, list | tuple):
        for item in obj:
            t = _first_tensor(item, depth + 1)
            if t is not None:
                return t
    if isinstance(obj, dict):
        for item in obj.values():
            t = _first_tensor(item, depth + 1)
            if t is not None:
                return t
    return None


def _tree_tensors(obj: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """The tensors of a module output or a call argument: a tensor, or lists, tuples and dicts of
    them nested up to three levels.

    A generator on purpose: a recursive inner function that closes over a result list forms a
    reference cycle (the function, its cell, the list), so the list, and every autograd graph its
    tensors hold, lives until the cycle collector runs, which the retained-graph check then reads
    as the user's script keeping graphs alive."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth < 3 and isinstance(obj, list | tuple):
        for item in obj:
            yield from _tree_tensors(item, depth + 1)
    elif depth < 3 and isinstance(obj, dict):
        for item in obj.values():
            yield from _tree_tensors(item, depth + 1)


def _grad_nodes(obj: Any, limit: int = 8) -> list[Any]:
    """The distinct autograd nodes of the tensors in a module's output, at most ``limit``."""
    nodes: list[Any] = []
    for t in _tree_tensors(obj):
        if len(nodes) >= limit:
            break
        fn = t.grad_fn
        if fn is not None and not any(fn is n for n in nodes):
            nodes.append(fn)
    return nodes


def _largest_tensor(obj: Any) -> torch.Tensor | None:
    return max(_tree_tensors(obj), key=lambda t: t.numel(), default=None)


def _clone_tree(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, tuple):
        return tuple(_clone_tree(o) for o in obj)
    if isinstance(obj, list):
        return [_clone_tree(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _clone_tree(v) for k, v in obj.items()}
    return obj


def _same_tree(a: Any, b: Any, depth: int = 0) -> bool:
    """Whether two call arguments hold equal tensors in the same structure."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and a.device == b.device
            and bool(torch.equal(a, b))
        )
    if depth > 3:
        return True
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(
            _same_tree(x, y, depth + 1) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k], depth + 1) for k in a)
    return True


def _tensor_id(t: torch.Tensor) -> tuple[Any, ...]:
    """Which tensor this is: the same memory, shape and strides."""
    return (t.data_ptr(), tuple(t.shape), tuple(t.stride()), str(t.device))


def _array_id(a: np.ndarray) -> tuple[Any, ...] | None:
    """``_tensor_id`` of the tensor ``torch.from_numpy(a)`` would make."""
    if a.itemsize == 0 or any(st % a.itemsize for st in a.strides):
        return None
    ptr = a.__array_interface__["data"][0]
    return (ptr, tuple(a.shape), tuple(st // a.itemsize for st in a.strides), "cpu")


def _dataset_arrays(dataset: Any) -> list[tuple[Any, ...]]:
    """Identities of the tensors / arrays a dataset holds: a TensorDataset's tensors, or the
    array attributes of a hand-written Dataset (``self.X = torch.from_numpy(X)``)."""
    held = getattr(dataset, "tensors", None)
    values = list(held) if isinstance(held, tuple) else []
    attrs = getattr(dataset, "__dict__", None)  # None for a dataset with __slots__
    if isinstance(attrs, dict):
        values += list(attrs.values())[:32]
    out: list[tuple[Any, ...]] = []
    for v in values:
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            out.append(_tensor_id(v))
        elif isinstance(v, np.ndarray) and v.ndim > 0:
            aid = _array_id(v)
            if aid is not None:
                out.append(aid)
    return out[:16]


def _row_digests(x: torch.Tensor, args: Any, limit: int) -> tuple[set[str], int]:
    """Digests of the first ``limit`` samples of a call: every positional tensor argument with
    ``x``'s leading size joins the row (``model(categorical_ids, numeric)``: a few category
    values alone would make different samples look alike). Returns the digests and the count
    of rows skipped as constant."""
    parts = [x]
    if isinstance(args, tuple):
        for a in args:
            if (
                isinstance(a, torch.Tensor)
                and a is not x
                and a.dim() > 0
                and a.shape[0] == x.shape[0]
                and len(parts) < 4
            ):
                parts.append(a)
    arrays = [r for r in (_host_rows(p) for p in parts) if r is not None and r.ndim == 2]
    if not arrays:
        return set(), 0
    n = min(arrays[0].shape[0], limit)
    const = np.full(n, any(r.shape[1] for r in arrays), dtype=bool)
    for r in arrays:
        if r.shape[1]:
            const &= r[:n].max(axis=1) == r[:n].min(axis=1)
    out: set[str] = set()
    skipped = 0
    for i in range(n):
        if const[i]:
            skipped += 1
            continue
        out.add(_digest(b"".join(r[i].tobytes() for r in arrays)))
    return out, skipped


def _host_rows(t: torch.Tensor) -> np.ndarray | None:
    """The tensor as a 2-D host array (rows = samples), strided to a bounded row width."""
    if t.dim() == 0 or t.shape[0] == 0:
        return None
    x = t.detach().reshape(t.shape[0], -1)
    if x.shape[1] > ROW_HASH_ELEMENTS:
        stride = math.ceil(x.shape[1] / ROW_HASH_ELEMENTS)
        x = x[:, ::stride]
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    try:
        return x.cpu().contiguous().numpy()
    except (TypeError, RuntimeError):
        return None


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _grad_state(p: torch.Tensor) -> tuple[int, int] | None:
    g = p.grad
    if g is None:
        return None
    return (id(g), g._version)


def _cleared(p: torch.Tensor) -> bool:
    """Whether a parameter's gradient is reset: None, or all zeros (``zero_grad(set_to_none=
    False)``)."""
    g = p.grad
    return g is None or not bool(g.any())


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, pos: int, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[pos] if len(args) > pos else default


class _Sentinel:
    """Lives in a loss graph node's metadata: alive exactly as long as the graph."""

    __slots__ = ("__weakref__",)


# --- state records ------------------------------------------------------------------------------


@dataclass
class _Loader:
    lid: int
    meta: dict[str, Any]
    kind: str = "unknown"  # train | val | unknown
    epoch: int = 0
    in_epoch: int = 0
    backward_since_batch: bool = False
    train_epoch_no: int | None = None
    order: dict[int, list[str]] = field(default_factory=dict)
    cached: Any = None
    batches: int = 0
    tensors: list[tuple[Any, ...]] = field(default_factory=list)  # arrays its dataset holds


@dataclass
class _Forward:
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
    first_snapshot: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    max_change: float | None = None
    change_checked_at: int = 0


@dataclass
class _PInfo:
    param: torch.Tensor
    grad_seen: bool = False
    grad_nonzero: bool = False
    sampled: int = 0


@dataclass
class _Site:
    kind: str  # relu | sigmoid | tanh
    module: weakref.ref[nn.Module] | None
    index: int
    ever: torch.Tensor | None = None
    units: int = 0
    batches: int = 0
    sat: torch.Tensor | None = None
    numel: int = 0


class Recorder:
    """Installs the hooks, keeps the aggregates, writes the events, decides when to stop."""

    def __init__(self, writer: EventWriter, config: Config) -> None:
        self.w = writer
        self.cfg = config
        self.overfit = config.mode == "overfit"
        self.pid = os.getpid()
        self.active = False
        self.stop_reason: str | None = None
        self._undo: list[Callable[[], None]] = []
        self._t0 = time.monotonic()
        # counters
        self.steps = 0
        self.backwards = 0
        self.forwards = 0
        self.loss_calls: dict[str, int] = {}
        self._step_events = 0
        self._next_summary = 1
        # module tracking
        self._stack: list[nn.Module] = []
        self._fw: _Forward | None = None
        self._window: list[_Forward] = []
        self._bw_window: list[_Forward] = []  # the window of the backward now running
        self._bw_count = 0
        self._is_model_cache: weakref.WeakKeyDictionary[nn.Module, bool] = (
            weakref.WeakKeyDictionary()
        )
        self._names: weakref.WeakKeyDictionary[nn.Module, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._parents: dict[int, nn.Module] = {}
        self._frozen: dict[int, bool] = {}
        self._frozen_at = 0
        self._tops: dict[int, weakref.ref[nn.Module]] = {}
        self._trained_tops: set[int] = set()
        self._buckets: dict[tuple[int, int | None, bool | None], _Bucket] = {}
        self._acts_on = False
        self._sampled = True
        self._layer_order: list[tuple[str, torch.Tensor]] | None = None
        self.first_layer: tuple[str, torch.Tensor] | None = None
        self.last_layer: tuple[str, torch.Tensor] | None = None
        self._first_layer_module: weakref.ref[nn.Module] | None = None
        self._first_layer_norm = False
        self._first_in: dict[str, Any] = {"n": 0, "rms_max": 0.0, "absmax": 0.0, "type": None}
        # loaders
        self._loaders: weakref.WeakKeyDictionary[DataLoader[Any], _Loader] = (
            weakref.WeakKeyDictionary()
        )
        self._loader_list: list[_Loader] = []
        self._cur_loader: _Loader | None = None
        self._train_epochs = 0
        # optimizers and parameters
        self._opts: list[_Opt] = []
        self._opt_by_id: dict[int, _Opt] = {}
        self.lr_track = LrTracker()
        self._pinfo: dict[int, _PInfo] = {}
        self._opt_param_ids: set[int] = set()
        self._bw_state: dict[int, tuple[int, int] | None] = {}
        self._outside_opt: dict[int, str] = {}
        # loop evidence
        self.loop: dict[str, Any] = {
            "transitions": 0,
            "not_zeroed": 0,
            "not_zeroed_first_step": None,
            "step_checks": 0,
            "cleared": 0,
            "cleared_first_step": None,
            "backward_twice": 0,
            "backward_twice_first_step": None,
            "retained_max": 0,
            "retained_first_step": None,
            "manual_update": None,
            "steps_without_backward": 0,
        }
        self._sentinels: list[tuple[int, weakref.ref[_Sentinel]]] = []
        self._manual_snapshot: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._step_losses: list[float] = []
        self._step_acc: list[float] = []
        # mode evidence
        self.mode_ev: dict[str, Any] = {
            "train_backwards": 0,
            "eval_backwards": 0,
            "eval_first_step": None,
            "eval_names": [],
        }
        # loss evidence
        self.loss_ev: dict[str, Any] = {
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
        self._labels: list[list[float]] = []
        self._class_counts: torch.Tensor | None = None
        self._ignored_classes: set[int] = set()  # ignore_index values that are class ids
        self._class_n = 0
        self._bin: dict[str, float] = {"pos": 0.0, "n": 0.0}
        self._target_float: dict[str, Any] = {"n": 0, "min": None, "max": None, "nonfinite": 0}
        # grads and params
        self.grad_ev: dict[str, Any] = {
            "sampled_steps": 0,
            "nonfinite_step": None,
            "nonfinite_names": [],
            "series": [],
        }
        self.param_ev: dict[str, Any] = {"nonfinite_step": None, "ratio": []}
        self._snapshot: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        # activations
        self._sites: dict[tuple[int, int, str], _Site] = {}
        # amp
        self.amp: dict[str, Any] = {"fp16_backwards": 0, "fp16_first_step": None, "scaler": False}
        self._scaled: dict[int, float] = {}
        # overfit
        # inputs of each top-level module's n-th call in a step (a Siamese encoder is called
        # twice), and whether this step's replay changed any input (it does not when the script
        # feeds the whole data every step, and then its targets are left alone too)
        self._replay_args: dict[tuple[int, int], Any] = {}
        self._fw_index: dict[int, int] = {}
        self._replay_changed = False
        self._replay_targets: dict[tuple[str, int], torch.Tensor] = {}
        self._loss_index = 0
        self.replayed = 0
        self.exception: dict[str, Any] | None = None
        self.where: dict[str, list[Any]] = {}
        self.internal_errors: list[str] = []
        self._reraised = 0

    # --- bookkeeping ----------------------------------------------------------------------------

    def _count(self) -> int:
        """Steps so far: optimizer steps, or backward calls when nothing steps an optimizer."""
        return self.steps if self.steps else self.backwards

    def _elapsed(self) -> float:
        return time.monotonic() - self._t0

    def _check(self) -> None:
        if self.stop_reason is not None and self.active:
            self._reraised += 1
            if self._reraised > SWALLOW_LIMIT:
                self._hard_exit()
            raise StopProbe(self.stop_reason)
        if self.active and self._elapsed() > self.cfg.max_seconds:
            self.stop("time")

    def _hard_exit(self) -> None:
        """The script keeps swallowing :class:`StopProbe` (``except BaseException``): write the
        evidence and end the process here."""
        self.uninstall()
        self.finish(self.stop_reason or "steps", 0)
        self.w.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        raise StopProbe(self.stop_reason)

    def _mark(self, key: str) -> None:
        """Remember the user-code line that is running now, the first time ``key`` is seen."""
        if key in self.where or len(self.where) > 64:
            return
        f = sys._getframe(1)
        while f is not None:
            path = f.f_code.co_filename
            if (
                not path.startswith(_DLPILOT_DIR)
                and not path.startswith("<")
                and "site-packages" not in path
                and "/lib/python" not in path
            ):
                self.where[key] = [os.path.abspath(path), f.f_lineno]
                return
            f = f.f_back  # type: ignore[assignment]

    def _internal(self, where: str, exc: Exception) -> None:
        """A bug in the probe must not become the user's failure: note it once and go on."""
        key = f"{where}:{type(exc).__name__}"
        if key not in self.internal_errors and len(self.internal_errors) < 16:
            self.internal_errors.append(key)
            self.w.write("probe-error", where=where, error=f"{type(exc).__name__}: {exc}"[:500])

    def _mine(self) -> bool:
        return self.active and os.getpid() == self.pid

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    # --- install --------------------------------------------------------------------------------

    def install(self) -> None:
        mm = nn.modules.module
        h1 = mm.register_module_forward_pre_hook(self._on_pre)
        h2 = mm.register_module_forward_hook(self._on_post)
        h3 = register_optimizer_step_pre_hook(self._on_step_pre)
        h4 = register_optimizer_step_post_hook(self._on_step_post)
        for h in (h1, h2, h3, h4):
            self._undo.append(h.remove)
        self._patch(torch.autograd, "backward", self._wrap_backward)
        self._patch(Optimizer, "__init__", self._wrap_opt_init)
        for name in (*_CLASS_LOSSES, *_ELEMENTWISE_LOSSES, "kl_div"):
            if hasattr(F, name):
                self._patch(F, name, self._loss_maker(name))
        self._patch(DataLoader, "__iter__", self._wrap_loader_iter)
        for owner, name, kind in (
            (torch, "relu", "relu"),
            (torch, "relu_", "relu"),
            (torch, "sigmoid", "sigmoid"),
            (torch, "tanh", "tanh"),
            (F, "sigmoid", "sigmoid"),
            (F, "tanh", "tanh"),
        ):
            self._patch(owner, name, self._act_maker(kind))
        scaler_cls = getattr(torch.amp, "GradScaler", None)
        if scaler_cls is not None:
            self._patch(scaler_cls, "scale", self._wrap_scale)
        if self.overfit:
            self._install_overfit()
        else:
            self._patch(torch.optim.lr_scheduler.LRScheduler, "__init__", self._wrap_sched_init)
        self.active = True
        self.w.write(
            "start",
            essential=True,
            probe=PROBE_VERSION,
            torch=torch.__version__,
            mode=self.cfg.mode,
            bounds={
                "train_batches": self.cfg.train_batches,
                "val_batches": self.cfg.val_batches,
                "epochs": self.cfg.epochs,
                "max_steps": self.cfg.max_steps,
                "max_seconds": self.cfg.max_seconds,
                "overfit_steps": self.cfg.overfit_steps,
            },
            cuda=torch.cuda.is_available(),
        )

    def _loss_maker(self, name: str) -> Callable[[Any], Any]:
        return lambda orig: self._wrap_loss(name, orig)

    def _act_maker(self, kind: str) -> Callable[[Any], Any]:
        return lambda orig: self._wrap_act(kind, orig)

    def _install_overfit(self) -> None:
        """Regularization off: dropout is the identity, label smoothing 0, schedulers frozen
        (the learning rate stays at each group's initial value); weight decay is zeroed per step."""

        def identity_dropout(orig: Any) -> Any:
            def dropout(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
                return input

            return dropout

        for name in (
            "dropout",
            "dropout1d",
            "dropout2d",
            "dropout3d",
            "alpha_dropout",
            "feature_alpha_dropout",
        ):
            if hasattr(F, name):
                self._patch(F, name, identity_dropout)

        sched = torch.optim.lr_scheduler

        def frozen_step(orig: Any) -> Any:
            def step(sch: Any, *args: Any, **kwargs: Any) -> Any:
                if getattr(sch, "_step_count", 0) == 0 or not self.active:
                    return orig(sch, *args, **kwargs)
                sch._step_count = getattr(sch, "_step_count", 0) + 1
                return None

            return step

        for cls in list(vars(sched).values()):
            if isinstance(cls, type) and issubclass(cls, sched.LRScheduler) and "step" in vars(cls):
                self._patch(cls, "step", frozen_step)

    def uninstall(self) -> None:
        self.active = False
        while self._undo:
            try:
                self._undo.pop()()
            except Exception:  # noqa: S112 - best effort while shutting down
                continue

    # --- modules --------------------------------------------------------------------------------

    def _is_model(self, module: nn.Module) -> bool:
        cached = self._is_model_cache.get(module)
        if cached is None:
            cached = not isinstance(module, _LOSS_BASE) and (
                next(module.parameters(), None) is not None
            )
            self._is_model_cache[module] = cached
        return cached

    def _index_top(self, top: nn.Module) -> None:
        if id(top) in self._tops:
            return
        if len(self._tops) < 16:
            self._tops[id(top)] = weakref.ref(top)
        for name, sub in top.named_modules():
            if sub not in self._names:
                self._names[sub] = (type(top).__name__, name)
            for child in sub.children():
                self._parents.setdefault(id(child), sub)

    def _name(self, m: nn.Module) -> str:
        _top, name = self._names.get(m, (type(m).__name__, ""))
        return f"{name} ({type(m).__name__})" if name else type(m).__name__

    def _is_frozen(self, m: nn.Module) -> bool:
        if self._count() - self._frozen_at > 50:
            self._frozen.clear()
            self._frozen_at = self._count()
        key = id(m)
        if key not in self._frozen:
            own = list(m.parameters(recurse=False))
            if not own:
                parent = self._parents.get(key)
                own = list(parent.parameters()) if parent is not None else []
            self._frozen[key] = bool(own) and not any(p.requires_grad for p in own)
        return self._frozen[key]

    def _on_pre(self, module: nn.Module, args: tuple[Any, ...]) -> Any:
        if not self._mine():
            return None
        stack = self._stack
        if not stack:
            self._check()
            stack.append(module)
            if self._is_model(module):
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
            if wanted and len(self._layer_order) < 10_000:
                self._layer_order.append((self._name(module), w))  # type: ignore[arg-type]
        has_own = fw.grad and next(module.parameters(recurse=False), None) is not None
        if self._first_layer_module is None and has_own:
            self._first_layer_module = weakref.ref(module)
            self._first_layer_norm = isinstance(module, _NORM_TYPES)
            self._first_in["type"] = type(module).__name__
        if (
            self._sampled
            and fw.grad
            and not self.overfit
            and not self._first_layer_norm
            and self._first_layer_module is not None
            and self._first_layer_module() is module
        ):
            try:
                self._first_layer_stats(args)
            except Exception as exc:
                self._internal("first-layer", exc)
        if self.overfit and isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
        return None

    def _on_post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not self._mine():
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

    def _note_mode(self, fw: _Forward, m: nn.Module) -> None:
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
        grad = torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
        ctx = self._cur_loader.lid if self._cur_loader is not None else None
        fw = _Forward(top=module, grad=grad, ctx=ctx, step=self._count())
        self._fw = fw
        self.forwards += 1
        if self.forwards > FORWARDS_PER_STEP_CAP * max(self.cfg.max_steps, 1) + 1000:
            self.stop("steps")
        self._index_top(module)
        if grad:
            fw.fp16 = any(
                torch.is_autocast_enabled(dev) and torch.get_autocast_dtype(dev) == torch.float16
                for dev in ("cuda", "cpu")
            )
            self._acts_on = self._sampled and not self.overfit
            if self.first_layer is None and self._layer_order is None:
                self._layer_order = []
        new_args = None
        if self.overfit and grad:
            nth = self._fw_index.get(id(module), 0)
            self._fw_index[id(module)] = nth + 1
            key = (id(module), nth)
            if key not in self._replay_args:
                if len(self._replay_args) < MAX_REPLAYED_CALLS:
                    self._replay_args[key] = _clone_tree(args)
            else:
                stored = self._replay_args[key]
                if _first_tensor(stored) is not None:
                    if not _same_tree(stored, args):
                        self._replay_changed = True
                    new_args = _clone_tree(stored)
                    self.replayed += 1
        if not self.overfit:
            try:
                self._input_stats(fw, args)
            except Exception as exc:
                self._internal("input-stats", exc)
        return new_args

    def _top_end(self, fw: _Forward, output: Any) -> None:
        self._fw = None
        self._acts_on = False
        if self._layer_order is not None and fw.grad:
            if self._layer_order:
                self.first_layer = self._layer_order[0]
                self.last_layer = self._layer_order[-1]
            self._layer_order = None
        key = (id(fw.top), fw.ctx, None if fw.ctx is not None else fw.grad)
        b = self._bucket(key)
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
                    self._mark(f"train_mode:{fw.ctx}:{fw.grad}")
            for m in fw.train_mode_mods:
                name = self._name(m)
                if name not in b.train_mode_names and len(b.train_mode_names) < MAX_NAMES:
                    b.train_mode_names.append(name)
        if fw.grad and len(self._window) < 16:
            self._window.append(fw)
            self._hook_output(fw, output)

    def _hook_output(self, fw: _Forward, output: Any) -> None:
        """Mark ``fw`` when a backward later runs through its output: only the forwards that
        built a backward's graph are judged with it (a validation pass that builds a graph in
        eval mode and is never back-propagated is not a training step)."""

        def hit(grad_outputs: Any) -> None:
            fw.hit = True

        try:
            for node in _grad_nodes(output):
                node.register_prehook(hit)
                fw.hooked = True
        except (AttributeError, RuntimeError, TypeError) as exc:
            self._internal("output-hook", exc)

    def _bucket(self, key: tuple[int, int | None, bool | None]) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = _Bucket()
            if len(self._buckets) < 64:
                self._buckets[key] = b
        return b

    # --- data statistics -------------------------------------------------------------------------

    def _input_stats(self, fw: _Forward, args: tuple[Any, ...]) -> None:
        x = _first_tensor(args)
        if x is None or x.dim() == 0:
            return
        key = (id(fw.top), fw.ctx, None if fw.ctx is not None else fw.grad)
        b = self._bucket(key)
        in_val_loader = self._cur_loader is not None and self._cur_loader.kind != "train"
        if not (self._sampled or in_val_loader or not fw.grad):
            return
        if b.stats_n >= 256:
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
            got, constant = _row_digests(x, args, MAX_ROWS_PER_BUCKET - seen)
            b.constant_rows += constant
            if fw.ctx is None and not fw.grad:
                b.passes.append((_tensor_id(x), got))
            else:
                b.rows |= got

    def _first_layer_stats(self, args: tuple[Any, ...]) -> None:
        x = _first_tensor(args)
        if x is None or not x.is_floating_point() or self._first_in["n"] >= 256:
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

    # --- activations ----------------------------------------------------------------------------

    def _wrap_act(self, kind: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        def act(input: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._acts_on or not isinstance(input, torch.Tensor):
                return orig(input, *args, **kwargs)
            pre = input.detach() if kind != "relu" else None
            if pre is not None:
                pre = pre.abs()  # before an in-place op could change it
            out = orig(input, *args, **kwargs)
            try:
                self._note_act(kind, out, pre)
            except Exception as exc:
                self._internal("activations", exc)
            return out

        return act

    def _site(self, kind: str) -> _Site | None:
        fw = self._fw
        owner = self._stack[-1] if self._stack else None
        if fw is None or owner is None:
            return None
        idx = fw.calls.get(id(owner), 0)
        fw.calls[id(owner)] = idx + 1
        key = (id(owner), idx, kind)
        site = self._sites.get(key)
        if site is None:
            if len(self._sites) >= MAX_SITES:
                return None
            site = _Site(kind=kind, module=weakref.ref(owner), index=idx)
            self._sites[key] = site
        return site

    def _note_act(self, kind: str, out: torch.Tensor, pre_abs: torch.Tensor | None) -> None:
        site = self._site(kind)
        if site is None:
            return
        if kind == "relu":
            o = out.detach()
            if o.dim() >= 4:
                ever = o.transpose(0, 1).reshape(o.shape[1], -1).gt(0).any(1)
            elif o.dim() >= 2:
                ever = o.reshape(-1, o.shape[-1]).gt(0).any(0)
            else:
                return
            if site.ever is None or site.ever.shape != ever.shape:
                site.ever = ever
                site.batches = 0
            else:
                site.ever = site.ever | ever
            site.units = int(ever.numel())
            site.batches += 1
        elif pre_abs is not None:
            n = (pre_abs > SATURATION_ABS).sum()
            site.sat = n if site.sat is None else site.sat + n
            site.numel += pre_abs.numel()
            site.batches += 1

    # --- losses ---------------------------------------------------------------------------------

    def _obs(self, kind: str, **detail: Any) -> None:
        n = self._obs_counts.get(kind, 0)
        self._obs_counts[kind] = n + 1
        if n < 3:
            self._mark("obs:" + kind)
            where = self.where.get("obs:" + kind)
            self.w.write("obs", kind=kind, step=self._count(), where=where, detail=detail)

    def _wrap_loss(self, name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        def loss_fn(*args: Any, **kwargs: Any) -> Any:
            if not self._mine():
                return orig(*args, **kwargs)
            self._check()
            return self._loss_call(name, orig, args, kwargs)

        loss_fn.__wrapped__ = orig  # type: ignore[attr-defined]
        loss_fn.__name__ = name
        loss_fn.__doc__ = orig.__doc__
        return loss_fn

    def _loss_call(
        self, name: str, orig: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.loss_calls[name] = self.loss_calls.get(name, 0) + 1
        inp = _arg(args, kwargs, "input", 0, None)
        tgt = _arg(args, kwargs, "target", 1, None)
        if not isinstance(inp, torch.Tensor) or not isinstance(tgt, torch.Tensor):
            return orig(*args, **kwargs)
        training = torch.is_grad_enabled() and inp.requires_grad
        if self.overfit and training:
            args, kwargs, tgt = self._overfit_loss_args(name, args, kwargs, inp, tgt)
        sample = self._sampled and not self.overfit
        if sample or (not self.overfit and self.loss_calls[name] <= 20):
            try:
                self._pre_loss_checks(name, inp, tgt, args, kwargs, training)
            except Exception as exc:
                self._internal("loss-checks", exc)
        out = orig(*args, **kwargs)
        if not isinstance(out, torch.Tensor):
            return out
        if training and out.grad_fn is not None and not self.overfit:
            self._attach_sentinel(out)
        if (
            self.overfit
            and training
            and name in (*_CLASS_LOSSES, "binary_cross_entropy", "binary_cross_entropy_with_logits")
        ):
            try:
                self._note_accuracy(name, inp, tgt, args, kwargs)
            except Exception as exc:
                self._internal("accuracy", exc)
        first = self.loss_ev["first_class_loss"] is None and name in _CLASS_LOSSES and training
        if (sample or first) and out.numel() == 1:
            value = float(out.detach())
            self._note_loss_value(name, value, training)
            if first:
                classes = int(inp.shape[1]) if inp.dim() >= 2 else int(inp.shape[0])
                reduction = _arg(args, kwargs, "reduction", 6, "mean")
                self.loss_ev["first_class_loss"] = {
                    "fn": name,
                    "value": value,
                    "classes": classes,
                    "reduction": reduction,
                    "step": self._count(),
                }
        return out

    def _note_loss_value(self, name: str, value: float, training: bool) -> None:
        ev = self.loss_ev
        ev["values"] += 1
        if not math.isfinite(value):
            if ev["nonfinite_step"] is None:
                ev["nonfinite_step"] = self._count()
                ev["nonfinite_fn"] = name
                self._mark("loss_nonfinite")
        elif name in _NONNEGATIVE_LOSSES and value < -1e-6 and ev["negative"] is None:
            ev["negative"] = {"fn": name, "value": value, "step": self._count()}
            self._mark("loss_negative")

    def _pre_loss_checks(
        self,
        name: str,
        inp: torch.Tensor,
        tgt: torch.Tensor,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        training: bool,
    ) -> None:
        x = inp.detach()
        if name in _CLASS_LOSSES:
            if tgt.is_floating_point():
                if tgt.dim() == x.dim() - 1 or (x.dim() == 1 and tgt.dim() == 0):
                    self._obs(
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
            ignore = _arg(args, kwargs, "ignore_index", 4, -100)
            t = tgt.detach()
            valid = t[t != ignore] if t.numel() else t
            if valid.numel() == 0:
                return
            vec = [valid.min(), valid.max()]
            if t.dim() == 1 and t.numel() > 1:
                vec.append((t[1:] >= t[:-1]).all().to(valid.dtype))
            vals = torch.stack(vec).tolist()
            lo, hi = vals[0], vals[1]
            if lo < 0 or hi >= classes:
                self._obs(
                    "label-out-of-range",
                    fn=name,
                    min=lo,
                    max=hi,
                    classes=classes,
                    ignore_index=ignore,
                )
            elif training:
                if len(self._labels) < LABEL_BATCHES and len(vals) == 3:
                    self._labels.append([lo, hi, vals[2], float(t.numel())])
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
                ev = self.loss_ev
                ev["ce_sampled"] += 1
                prob = mn >= 0.0 and mx <= 1.0 and dev < 1e-3
                logprob = mx <= 1e-6 and lsedev < 1e-3
                if name == "cross_entropy" and (prob or logprob):
                    self._mark("ce_input")
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
        if name in _ELEMENTWISE_LOSSES or name == "kl_div":
            if not tgt.is_floating_point() and name != "kl_div":
                self._obs(
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
                        self._obs(
                            "shape-broadcast",
                            fn=name,
                            input_shape=list(x.shape),
                            target_shape=list(tgt.shape),
                            broadcast_shape=list(shape),
                        )
            if name == "binary_cross_entropy_with_logits" and x.numel():
                mn, mx = torch.stack([x.min(), x.max()]).float().tolist()
                ev = self.loss_ev
                ev["bcel_sampled"] += 1
                ev["bcel_numel"] += int(x.numel())
                if mn >= 0.0 and mx <= 1.0:
                    self._mark("bcel_input")
                    ev["bcel_unit"] += 1
                    ev["bcel_example"] = {"min": mn, "max": mx, "numel": int(x.numel())}
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

    def _overfit_loss_args(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        inp: torch.Tensor,
        tgt: torch.Tensor,
    ) -> tuple[tuple[Any, ...], dict[str, Any], torch.Tensor]:
        key = (name, self._loss_index)
        self._loss_index += 1
        stored = self._replay_targets.get(key)
        if stored is None:
            self._replay_targets[key] = tgt.detach().clone()
        elif self._replay_changed and (
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

    def _note_accuracy(
        self,
        name: str,
        inp: torch.Tensor,
        tgt: torch.Tensor,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        with torch.no_grad():
            x = inp.detach()
            if name in _CLASS_LOSSES:
                if x.dim() < 2:
                    return
                pred = x.argmax(1)
                if tgt.is_floating_point():
                    if tgt.shape != x.shape:
                        return
                    truth = tgt.argmax(1)
                    mask = torch.ones_like(truth, dtype=torch.bool)
                else:
                    ignore = _arg(args, kwargs, "ignore_index", 4, -100)
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

    def _attach_sentinel(self, out: torch.Tensor) -> None:
        node = out.grad_fn
        if node is None:
            return
        live = [(s, r) for s, r in self._sentinels if r() is not None]
        if len(live) >= MAX_RETAIN_SENTINELS:
            self._sentinels = live
            return
        try:
            sentinel = _Sentinel()
            cast(dict[str, Any], node.metadata)["dlpilot_alive"] = sentinel
        except (AttributeError, RuntimeError, TypeError):
            return
        live.append((self._count(), weakref.ref(sentinel)))
        self._sentinels = live

    # --- backward -------------------------------------------------------------------------------

    def _wrap_scale(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def scale(scaler: Any, outputs: Any) -> Any:
            out = orig(scaler, outputs)
            if self._mine() and getattr(scaler, "is_enabled", lambda: False)():
                self.amp["scaler"] = True
                if isinstance(out, torch.Tensor):
                    with contextlib.suppress(RuntimeError, TypeError, ValueError):
                        self._scaled = {id(out): float(scaler.get_scale())}
            return out

        return scale

    def _wrap_backward(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._mine():
                return orig(tensors, *args, **kwargs)
            self._check()
            root = tensors if isinstance(tensors, torch.Tensor) else _first_tensor(tensors)
            try:
                self._before_backward(root)
            except Exception as exc:
                self._internal("before-backward", exc)
            result = orig(tensors, *args, **kwargs)
            try:
                self._after_backward()
            except Exception as exc:
                self._internal("after-backward", exc)
            return result

        return backward

    def _before_backward(self, root: torch.Tensor | None) -> None:
        self._stack.clear()
        self._fw = None
        count = self._count()
        if root is not None and root.grad_fn is not None:
            node = root.grad_fn
            try:
                md = cast(dict[str, Any], node.metadata)
                seen = md.get("dlpilot_backward")
                if seen is not None and seen == self.steps:
                    lp = self.loop
                    lp["backward_twice"] += 1
                    if lp["backward_twice_first_step"] is None:
                        lp["backward_twice_first_step"] = count
                        self._mark("backward_twice")
                md["dlpilot_backward"] = self.steps
            except (AttributeError, RuntimeError, TypeError):
                pass
            if not self.overfit and root.requires_grad:
                self._attach_sentinel(root)
        if root is not None and root.numel() == 1:
            value = float(root.detach())
            scale = self._scaled.pop(id(root), None)
            if scale:
                value = value / scale
            self._step_losses.append(value)
            if not math.isfinite(value) and self.loss_ev["nonfinite_step"] is None and not scale:
                self.loss_ev["nonfinite_step"] = count
                self.loss_ev["nonfinite_fn"] = "backward"
        # zero-grad bookkeeping: a stale optimizer whose gradients were reset since is not stale
        for o in self._opts:
            if o.stale and all(_cleared(p) for p in o.tracked):
                o.stale = False
        # the state of each optimizer's tracked grads before this backward
        self._pre_states = {
            o.oid: [_grad_state(p) for p in o.tracked] for o in self._opts if o.post_state
        }
        # the forwards since the last backward, judged once this one has run (see _judge_window)
        self._bw_window = self._window
        self._bw_count = count
        self._window = []
        if self._cur_loader is not None:
            ld = self._cur_loader
            ld.backward_since_batch = True
            if ld.kind != "train":
                ld.kind = "train"
            if ld.train_epoch_no is None:
                self._train_epochs += 1
                ld.train_epoch_no = self._train_epochs
        # manual updates (no optimizer): compare the parameters with the first backward's copy
        if self.steps == 0 and self.backwards >= 1 and self._manual_snapshot is not None:
            nb = self.backwards
            if nb & (nb - 1) == 0 and self.loop["manual_update"] is not True:
                self.loop["manual_update"] = self._changed(self._manual_snapshot) > 0

    def _judge_window(self, count: int) -> None:
        """Mode and precision of the forwards that built the graph just back-propagated."""
        window = [fw for fw in self._bw_window if fw.hit or not fw.hooked]
        self._bw_window = []
        flagged: list[str] = []
        fp16 = False
        for fw in window:
            self._trained_tops.add(id(fw.top))
            fp16 = fp16 or fw.fp16
            for m in fw.eval_mods:
                if not self._is_frozen(m):
                    flagged.append(self._name(m))
        if window:
            ev = self.mode_ev
            ev["train_backwards"] += 1
            if flagged:
                ev["eval_backwards"] += 1
                if ev["eval_first_step"] is None:
                    ev["eval_first_step"] = count
                    self._mark("eval_during_training")
                for n in flagged:
                    if n not in ev["eval_names"] and len(ev["eval_names"]) < MAX_NAMES:
                        ev["eval_names"].append(n)
        if fp16:
            self.amp["fp16_backwards"] += 1
            if self.amp["fp16_first_step"] is None:
                self.amp["fp16_first_step"] = count
                self._mark("fp16_backward")

    def _after_backward(self) -> None:
        self._judge_window(self._bw_count)
        self.backwards += 1
        self._loss_index = 0
        self._fw_index.clear()
        self._replay_changed = False
        pre = getattr(self, "_pre_states", {})
        for o in self._opts:
            before = pre.get(o.oid)
            if o.post_state is None or before is None:
                continue
            after = [_grad_state(p) for p in o.tracked]
            touched = [i for i in range(len(after)) if after[i] != before[i]]
            if not touched:
                continue
            not_zeroed = sum(
                1 for i in touched if before[i] is not None and before[i] == o.post_state[i]
            )
            self.loop["transitions"] += 1
            o.stale = not_zeroed * 2 > len(touched)
            o.post_state = None
        for o in self._opts:
            for p in o.tracked:
                self._bw_state[id(p)] = _grad_state(p)
        if self.steps == 0 and self.backwards == 1:
            self._manual_snapshot = self._snapshot_params(self._trained_params(), 1_000_000)
        if not self._opts:
            if self._sampled and not self.overfit:
                self._grad_sample(self._trained_params(), in_optimizer=False)
            self._after_count()
            if self.steps == 0:
                self._bound(self.backwards)
        elif self.backwards >= 4 * max(self.cfg.max_steps, 1):
            self.stop("steps")

    def _trained_params(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for key in self._trained_tops:
            ref = self._tops.get(key)
            top = ref() if ref is not None else None
            if top is not None:
                out.extend(p for p in top.parameters() if p.requires_grad)
        return out

    # --- optimizers -----------------------------------------------------------------------------

    def _opt_record(self, opt: Optimizer) -> _Opt:
        rec = self._opt_by_id.get(id(opt))
        params = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
        if rec is None or rec.opt is not opt:
            self.lr_track.built(opt)
            rec = _Opt(oid=len(self._opts), opt=opt)
            if len(self._opts) < 8:
                self._opts.append(rec)
            self._opt_by_id[id(opt)] = rec
            self.w.write(
                "optimizer",
                oid=rec.oid,
                type=type(opt).__name__,
                groups=[
                    {
                        k: v
                        for k, v in g.items()
                        if k != "params" and isinstance(v, int | float | bool | str)
                    }
                    for g in opt.param_groups[:8]
                ],
                params=len(params),
            )
        if len(params) != len(rec.params):
            rec.params = params
            rec.tracked = params[:MAX_TRACKED_PARAMS]
            for p in params:
                self._opt_param_ids.add(id(p))
                if id(p) not in self._pinfo:
                    self._pinfo[id(p)] = _PInfo(param=p)
        return rec

    def _wrap_opt_init(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(opt: Optimizer, *args: Any, **kwargs: Any) -> None:
            orig(opt, *args, **kwargs)
            if self._mine():
                self._opt_record(opt)

        return __init__

    def _wrap_sched_init(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(sched: Any, *args: Any, **kwargs: Any) -> None:
            orig(sched, *args, **kwargs)
            if self._mine():
                self.lr_track.scheduler(sched)

        return __init__

    def _on_step_pre(self, opt: Optimizer, args: Any, kwargs: Any) -> None:
        if not self._mine():
            return
        self._check()
        try:
            self._step_pre(opt)
        except Exception as exc:
            self._internal("step-pre", exc)

    def _step_pre(self, opt: Optimizer) -> None:
        o = self._opt_record(opt)
        if self.overfit:
            for g in opt.param_groups:
                if "weight_decay" in g:
                    g["weight_decay"] = 0.0
                # the schedule is off: train at its peak (OneCycleLR starts at max_lr / 25,
                # a warmup near 0; both keep their nominal rate in the group)
                peak = max(float(g.get("max_lr", 0.0)), float(g.get("initial_lr", 0.0)))
                if peak > 0:
                    g["lr"] = peak
            return
        count = self._count()
        if o.stale:  # it steps on gradients that hold what its previous step already used
            o.stale = False
            lp = self.loop
            lp["not_zeroed"] += 1
            if lp["not_zeroed_first_step"] is None:
                lp["not_zeroed_first_step"] = self.steps
                self._mark("not_zeroed")
        backward_ran = self.backwards > o.bw_at_step
        if not backward_ran:
            self.loop["steps_without_backward"] += 1
        cleared_all = False
        touched = [p for p in o.tracked if self._bw_state.get(id(p)) is not None]
        if backward_ran and touched:
            now = [_grad_state(p) for p in touched]
            if all(s is None for s in now):
                cleared_all = True
        sampled = self._sampled
        if sampled:
            zero = self._grad_sample(o.params, in_optimizer=True)
            if backward_ran and touched and not cleared_all and zero is not None:
                cleared_all = zero
            self._outside_grads()
        if backward_ran and touched and (sampled or cleared_all):
            lp = self.loop
            lp["step_checks"] += 1
            if cleared_all:
                lp["cleared"] += 1
                if lp["cleared_first_step"] is None:
                    lp["cleared_first_step"] = count
                    self._mark("cleared")
        if o.first_snapshot is None:
            o.first_snapshot = self._snapshot_params(o.params, 1_000_000)
        if sampled:
            weights = [p for p in o.params if p.dim() >= 2]
            self._snapshot = self._snapshot_params(weights, MAX_SNAPSHOT_ELEMENTS)

    def _on_step_post(self, opt: Optimizer, args: Any, kwargs: Any) -> None:
        if not self._mine():
            return
        try:
            self._step_post(opt)
        except Exception as exc:
            self._internal("step-post", exc)
        self._bound(self.steps)

    def _step_post(self, opt: Optimizer) -> None:
        o = self._opt_record(opt)
        o.steps += 1
        o.bw_at_step = self.backwards
        o.post_state = [_grad_state(p) for p in o.tracked]
        self.steps += 1
        if not self.overfit:
            self.lr_track.step(opt, self.steps)
            if self._snapshot is not None:
                self._update_ratio(opt)
                self._snapshot = None
            if self._sampled:
                self._param_finite(o.params)
            if o.first_snapshot is not None and (o.steps & (o.steps - 1) == 0):
                o.max_change = self._changed(o.first_snapshot)
                o.change_checked_at = o.steps
        self._after_count()

    def _bound(self, count: int) -> None:
        if self.overfit:
            if count >= self.cfg.overfit_steps:
                self.stop("overfit-steps")
        elif count >= self.cfg.max_steps:
            self.stop("steps")
        self._check()

    def _after_count(self) -> None:
        """End of a step: the step event, the retained-graph check, sampling, summaries."""
        count = self._count()
        losses = self._step_losses
        self._step_losses = []
        fields: dict[str, Any] = {"n": count}
        if losses:
            fields["loss"] = sum(losses) / len(losses)
        if self._step_acc:
            fields["acc"] = self._step_acc[-1]
            self._step_acc = []
        if self.opts_lr() is not None:
            fields["lr"] = self.opts_lr()
        if self._step_events < MAX_STEP_EVENTS:
            self._step_events += 1
            self.w.write("step", **fields)
        if not self.overfit:
            alive = sum(
                1 for s, r in self._sentinels if count - s >= RETAIN_AGE_STEPS and r() is not None
            )
            lp = self.loop
            if alive > lp["retained_max"]:
                lp["retained_max"] = alive
                if lp["retained_first_step"] is None and alive >= 2:
                    lp["retained_first_step"] = count
        self._sampled = (not self.overfit) and (
            count < DENSE_STEPS or count % max(self.cfg.sample_every, 1) == 0
        )
        if count >= self._next_summary:
            self._next_summary *= 2
            self.write_summary(final=False)

    def opts_lr(self) -> float | None:
        if not self._opts:
            return None
        groups = self._opts[0].opt.param_groups
        lr = groups[0].get("lr") if groups else None
        return float(lr) if isinstance(lr, int | float) else None

    def _grad_sample(self, params: list[torch.Tensor], *, in_optimizer: bool) -> bool | None:
        """Gradient norms of ``params`` in one host transfer. Returns whether every gradient
        that exists is exactly zero (None when no parameter has a gradient)."""
        idx = [i for i, p in enumerate(params) if p.grad is not None and not p.grad.is_sparse]
        for p in params:
            info = self._pinfo.get(id(p))
            if info is None and len(self._pinfo) < 100_000:
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
        ev = self.grad_ev
        ev["sampled_steps"] += 1
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
                nonfinite.append(self._param_name(p))
            else:
                total_sq += v * v
        if nonfinite and ev["nonfinite_step"] is None:
            ev["nonfinite_step"] = self._count()
            ev["nonfinite_names"] = nonfinite[:MAX_NAMES]
        if in_optimizer or not self._opts:
            first = by_id.get(id(self.first_layer[1])) if self.first_layer else None
            last = by_id.get(id(self.last_layer[1])) if self.last_layer else None
            if len(ev["series"]) < MAX_SERIES:
                total = math.sqrt(total_sq) if not nonfinite else math.nan
                ev["series"].append([self.steps, total, first, last])
        return all(v == 0.0 for v in vals)

    def _outside_grads(self) -> None:
        if len(self._outside_opt) >= 10_000:
            return
        for p in self._trained_params():
            if id(p) not in self._opt_param_ids and p.grad is not None:
                self._outside_opt.setdefault(id(p), self._param_name(p))

    def _param_name(self, p: torch.Tensor) -> str:
        names = getattr(self, "_pnames", None)
        if names is None or id(p) not in names:
            names = {}
            for key in self._trained_tops | set(self._tops):
                ref = self._tops.get(key)
                top = ref() if ref is not None else None
                if top is None:
                    continue
                for n, q in top.named_parameters():
                    names.setdefault(id(q), n)
            self._pnames = names
        return str(names.get(id(p), f"<{tuple(p.shape)} parameter>"))

    @staticmethod
    def _snapshot_params(
        params: list[torch.Tensor], budget: int
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out: list[tuple[torch.Tensor, torch.Tensor]] = []
        left = budget
        for p in params:
            if left <= 0:
                break
            flat = p.detach().reshape(-1)
            take = flat[:left] if flat.numel() > left else flat
            out.append((p, take.clone()))
            left -= take.numel()
        return out

    @staticmethod
    def _changed(snapshot: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        if not snapshot:
            return 0.0
        diffs = []
        for p, old in snapshot:
            cur = p.detach().reshape(-1)[: old.numel()]
            diffs.append((cur.float() - old.float()).abs().max())
        return float(torch.stack([d.to(diffs[0].device) for d in diffs]).max())

    def _update_ratio(self, opt: Optimizer) -> None:
        snap = self._snapshot
        if not snap:
            return
        ratios = []
        for p, old in snap:
            cur = p.detach().reshape(-1)[: old.numel()].float()
            ratios.append((cur - old.float()).norm() / cur.norm().clamp_min(1e-12))
        vals = torch.stack([r.to(ratios[0].device) for r in ratios]).tolist()
        logs = sorted(math.log10(v) for v in vals if v > 0 and math.isfinite(v))
        series = self.param_ev["ratio"]
        if len(series) < MAX_SERIES:
            med = logs[len(logs) // 2] if logs else None
            series.append([self.steps, med, self.opts_lr(), len(vals) - len(logs)])

    def _param_finite(self, params: list[torch.Tensor]) -> None:
        if self.param_ev["nonfinite_step"] is not None or not params:
            return
        try:
            norms = torch._foreach_norm([p.detach() for p in params])
            ok = bool(torch.isfinite(torch.stack([n.float() for n in norms])).all())
        except RuntimeError:
            ok = all(bool(torch.isfinite(p.detach()).all()) for p in params)
        if not ok:
            bad = [
                self._param_name(p) for p in params if not bool(torch.isfinite(p.detach()).all())
            ]
            self.param_ev["nonfinite_step"] = self.steps
            self.param_ev["nonfinite_names"] = bad[:MAX_NAMES]

    # --- data loaders ---------------------------------------------------------------------------

    def _wrap_loader_iter(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        rec = self

        def __iter__(loader: DataLoader[Any]) -> Any:
            if not rec._mine():
                return orig(loader)
            rec._check()
            state = rec._loader_state(loader)
            if not rec.overfit and state.kind == "train" and rec._train_epochs >= rec.cfg.epochs:
                rec.stop("epochs")
            state.epoch += 1
            state.in_epoch = 0
            state.train_epoch_no = None
            state.backward_since_batch = False
            return _LoaderIter(rec, state, orig(loader))

        return __iter__

    def _loader_state(self, loader: DataLoader[Any]) -> _Loader:
        state = self._loaders.get(loader)
        if state is not None:
            return state
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        try:
            length: int | None = len(loader.dataset)  # type: ignore[arg-type]
        except TypeError:
            length = None
        meta = {
            "sampler": type(sampler).__name__ if sampler is not None else None,
            "batch_sampler": type(batch_sampler).__name__ if batch_sampler is not None else None,
            "shuffle": isinstance(sampler, torch.utils.data.RandomSampler),
            "batch_size": getattr(loader, "batch_size", None),
            "dataset": type(loader.dataset).__name__,
            "dataset_len": length,
            "num_workers": getattr(loader, "num_workers", 0),
            "iterable": isinstance(loader.dataset, torch.utils.data.IterableDataset),
        }
        state = _Loader(lid=len(self._loader_list), meta=meta)
        state.tensors = _dataset_arrays(loader.dataset)
        self._loaders[loader] = state
        if len(self._loader_list) < 32:
            self._loader_list.append(state)
        self.w.write("loader", lid=state.lid, meta=meta)
        return state

    def next_batch(self, state: _Loader, it: Iterator[Any]) -> Any:
        self._check()
        self._stack.clear()
        self._fw = None
        if state.in_epoch > 0 and state.kind == "unknown" and not state.backward_since_batch:
            state.kind = "val"
        if self.overfit:
            if state.kind == "train" and state.cached is not None:
                self._cur_loader = state
                state.backward_since_batch = False
                return state.cached
            limit = self.cfg.train_batches if state.kind == "train" else self.cfg.val_batches
        else:
            epoch_no = state.train_epoch_no
            if state.kind == "train" and epoch_no is not None and epoch_no > self.cfg.epochs:
                self.stop("epochs")
            limit = self.cfg.train_batches if state.kind == "train" else self.cfg.val_batches
        if state.in_epoch >= limit:
            self._end_of_epoch(state)
            raise StopIteration
        try:
            batch = next(it)
        except StopIteration:
            self._end_of_epoch(state)
            raise
        state.in_epoch += 1
        state.batches += 1
        state.backward_since_batch = False
        self._cur_loader = state
        if self.overfit and state.cached is None and state.epoch == 1:
            state.cached = batch
        if not self.overfit and state.epoch <= 4 and state.in_epoch <= ORDER_BATCHES:
            t = _largest_tensor(batch)
            if t is not None:
                rows = _host_rows(t)
                if rows is not None:
                    state.order.setdefault(state.epoch, []).append(_digest(rows.tobytes()))
        return batch

    def _end_of_epoch(self, state: _Loader) -> None:
        if self._cur_loader is state:
            self._cur_loader = None

    # --- results --------------------------------------------------------------------------------

    def record_exception(self, exc: BaseException) -> None:
        tb = exc.__traceback__
        frames = traceback.extract_tb(tb) if tb is not None else []
        here = _DLPILOT_DIR
        candidates = []
        for fr in frames:
            path = os.path.abspath(fr.filename)
            if path.startswith(here) or "site-packages" in path or "dist-packages" in path:
                continue
            if path.startswith("<") or "/lib/python" in path:
                continue
            candidates.append(fr)
        preferred = [
            fr
            for fr in candidates
            if any(os.path.abspath(fr.filename).startswith(r) for r in self.cfg.roots)
        ]
        chosen = preferred or candidates
        user = chosen[-1] if chosen else None
        formatted = "".join(traceback.format_exception(type(exc), exc, tb))
        self.exception = {
            "type": type(exc).__name__,
            "qualname": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "message": str(exc)[:2000],
            "file": os.path.abspath(user.filename) if user else None,
            "line": user.lineno if user else None,
            "code": (user.line or "")[:300] if user else None,
            "traceback": formatted[-8000:],
            "step": self._count(),
        }
        self.w.write("exception", essential=True, **self.exception)

    def user_files(self) -> list[str]:
        out: list[str] = [self.cfg.script] if self.cfg.script else []
        for mod in list(sys.modules.values()):
            f = getattr(mod, "__file__", None)
            if not isinstance(f, str) or not f.endswith(".py") or not os.path.isabs(f):
                continue
            path = os.path.normpath(f)
            if "site-packages" in path or "dist-packages" in path or "/.venv/" in path:
                continue
            if path.startswith(_DLPILOT_DIR):
                continue
            if any(path.startswith(r + os.sep) for r in self.cfg.roots):
                out.append(path)
        return sorted(set(out))[:200]

    def summary(self) -> dict[str, Any]:
        loaders = []
        for st in self._loader_list:
            epochs = sorted(st.order)
            same_order = None
            if len(epochs) >= 2:
                first, second = st.order[epochs[0]], st.order[epochs[1]]
                n = min(len(first), len(second))
                if n:
                    same_order = first[:n] == second[:n]
            loaders.append(
                {
                    "lid": st.lid,
                    "kind": st.kind,
                    "epochs": st.epoch,
                    "batches": st.batches,
                    "same_order": same_order,
                    **st.meta,
                }
            )
        buckets = []
        kinds = {st.lid: st.kind for st in self._loader_list}
        for (top, ctx, grad), b in self._buckets.items():
            buckets.append(
                {
                    "top": top,
                    "trained": top in self._trained_tops,
                    "ctx": ctx,
                    "ctx_kind": kinds.get(ctx, "unknown") if ctx is not None else None,
                    "grad_ctx": grad,
                    "role": self._bucket_kind(ctx, grad),
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
        overlap = self._overlap()
        params = []
        for info in self._pinfo.values():
            p = info.param
            params.append(
                {
                    "name": self._param_name(p),
                    "shape": list(p.shape),
                    "requires_grad": bool(p.requires_grad),
                    "in_optimizer": id(p) in self._opt_param_ids,
                    "sampled": info.sampled,
                    "grad_seen": info.grad_seen,
                    "grad_nonzero": info.grad_nonzero,
                }
            )
        no_flow = [
            q for q in params if q["requires_grad"] and q["sampled"] and not q["grad_nonzero"]
        ]
        if self._opts:
            no_flow = [q for q in no_flow if q["in_optimizer"]]
        acts = self._act_summary()
        opts = [
            {
                "oid": o.oid,
                "type": type(o.opt).__name__,
                "steps": o.steps,
                "params": len(o.params),
                "max_change": o.max_change,
                "change_checked_at": o.change_checked_at,
                "lr": [g.get("lr") for g in o.opt.param_groups[:8]],
                **self.lr_track.summary(o.opt),
            }
            for o in self._opts
        ]
        classes = None
        if self._class_counts is not None:
            classes = [int(c) for c in self._class_counts.tolist()]
        return {
            "steps": self.steps,
            "backwards": self.backwards,
            "forwards": self.forwards,
            "elapsed": round(self._elapsed(), 3),
            "loss_calls": self.loss_calls,
            "optimizers": opts,
            "loaders": loaders,
            "buckets": buckets,
            "overlap": overlap,
            "loop": self.loop,
            "mode": self.mode_ev,
            "loss": self.loss_ev,
            "labels": {
                "batches": self._labels,
                "class_counts": classes,
                "ignored_classes": sorted(self._ignored_classes),
                "class_batches": self._class_n,
                "binary": self._bin,
                "target_float": self._target_float,
            },
            "grads": {
                **self.grad_ev,
                "first_layer": self.first_layer[0] if self.first_layer else None,
                "last_layer": self.last_layer[0] if self.last_layer else None,
                "params": len(params),
                "no_flow": [q["name"] for q in no_flow][:MAX_NAMES],
                "no_flow_count": len(no_flow),
                "not_in_optimizer": list(self._outside_opt.values())[:MAX_NAMES],
                "not_in_optimizer_count": len(self._outside_opt),
                "frozen": sum(1 for q in params if not q["requires_grad"]),
            },
            "params": self.param_ev,
            "acts": acts,
            "first_layer_input": {**self._first_in, "normalizes": self._first_layer_norm},
            "amp": self.amp,
            "overfit": {"replayed": self.replayed, "tops": len(self._replay_args)},
            "where": self.where,
        }

    def _overlap(self) -> dict[str, Any]:
        train: set[str] = set()
        val: set[str] = set()
        passes: list[tuple[tuple[Any, ...], set[str]]] = []
        for (top, _ctx, grad), b in self._buckets.items():
            if top not in self._trained_tops:
                continue
            kind = self._bucket_kind(_ctx, grad)
            if kind == "train":
                train |= b.rows
            elif kind == "val":
                val |= b.rows
                passes.extend(b.passes)
        # A no-grad pass outside any loader over an array a training dataset holds, or made of
        # training rows (the whole graph of a full-batch GNN, training accuracy on the training
        # tensor), measures training metrics; only the other passes are validation. (Batch
        # tensors are not compared by address: a freed batch's memory is reused.)
        train_tensors: set[tuple[Any, ...]] = set()
        for st in self._loader_list:
            if st.kind == "train":
                train_tensors.update(st.tensors)
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

    def _bucket_kind(self, ctx: int | None, grad: bool | None) -> str:
        if ctx is None:
            return "train" if grad else "val"
        for st in self._loader_list:
            if st.lid == ctx:
                return st.kind
        return "unknown"

    def _act_summary(self) -> list[dict[str, Any]]:
        out = []
        for site in self._sites.values():
            owner = site.module() if site.module is not None else None
            where = self._name(owner) if owner is not None else "?"
            item: dict[str, Any] = {
                "kind": site.kind,
                "site": f"{where} call {site.index + 1}",
                "batches": site.batches,
            }
            if site.kind == "relu":
                if site.ever is None:
                    continue
                alive = int(site.ever.sum())
                item["units"] = site.units
                item["dead"] = site.units - alive
            else:
                if site.sat is None:
                    continue
                item["numel"] = site.numel
                item["saturated"] = int(site.sat)
            out.append(item)
        return out

    def write_summary(self, final: bool) -> None:
        try:
            data = self.summary()
        except Exception as exc:
            data = {"error": f"{type(exc).__name__}: {exc}"}
        self.w.write("summary", essential=final, final=final, **data)

    def finish(self, reason: str, exit_code: int) -> None:
        self.active = False
        self.write_summary(final=True)
        self.w.write(
            "end",
            essential=True,
            reason=reason,
            exit_code=exit_code,
            steps=self.steps,
            backwards=self.backwards,
            forwards=self.forwards,
            elapsed=round(self._elapsed(), 3),
            user_files=self.user_files(),
            dropped_events=self.w.dropped,
        )


class _LoaderIter:
    """Wraps a DataLoader iterator: bounds the epoch and records each batch."""

    def __init__(self, rec: Recorder, state: _Loader, it: Iterator[Any]) -> None:
        self._rec = rec
        self._state = state
        self._it = it

    def __iter__(self) -> _LoaderIter:
        return self

    def __next__(self) -> Any:
        if not self._rec._mine():
            return next(self._it)
        return self._rec.next_batch(self._state, self._it)

    def __len__(self) -> int:
        return len(self._it)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._it, name)
