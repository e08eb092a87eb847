"""Data loaders: what each DataLoader is, whether it trains or validates, its epochs bounded.

A loader's role is decided here once: ``train`` as soon as a backward runs while one of its
batches is current, ``val`` when it hands out a second batch with no backward since the first,
``unknown`` until then. The epoch bound is applied by counting training epochs (a training
loader iterated again after ``epochs`` of them stops the script) and by cutting each epoch to
``train_batches`` / ``val_batches`` batches.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader

from ._context import RunContext
from ._schema import LoaderMeta, LoaderSummary, Role
from ._tensors import dataset_arrays, digest, host_rows, largest_tensor

ORDER_BATCHES = 2
"""Batches per epoch whose content hash is kept to compare epoch orders."""

ORDER_EPOCHS = 4
"""Epochs whose first batches are hashed."""

MAX_LOADERS = 32

FIRST_EPOCH_SHARE = 0.5
"""Share of the first training epoch in which the learning rate's fall is measured: a schedule
counted in batches over a one-epoch run may end near zero at the epoch's end by design, but has
kept half its peak at mid-epoch."""
"""Loaders reported in the summary."""


@dataclass
class LoaderState:
    lid: int
    meta: LoaderMeta
    kind: Role = "unknown"
    epoch: int = 0
    in_epoch: int = 0
    backward_since_batch: bool = False
    train_epoch_no: int | None = None
    order: dict[int, list[str]] = field(default_factory=dict)
    cached: Any = None
    batches: int = 0
    tensors: list[tuple[Any, ...]] = field(default_factory=list)  # arrays its dataset holds
    length: int | None = None  # batches per epoch, unbounded
    iter_at: int = 0  # the run's backward count when its latest epoch began


class LoaderObserver:
    """Wraps ``DataLoader.__iter__``; knows the loader whose batch is current."""

    def __init__(self, ctx: RunContext, new_batch: Callable[[], None]) -> None:
        self.ctx = ctx
        self._new_batch = new_batch  # a batch starts a new forward context
        self._states: weakref.WeakKeyDictionary[DataLoader[Any], LoaderState] = (
            weakref.WeakKeyDictionary()
        )
        self.loaders: list[LoaderState] = []
        self.current: LoaderState | None = None
        self._train_epochs = 0

    def install(self) -> None:
        self.ctx.patch(DataLoader, "__iter__", self._wrap_iter)

    def _wrap_iter(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        obs = self
        ctx = self.ctx

        def __iter__(loader: DataLoader[Any]) -> Any:
            if not ctx.mine():
                return orig(loader)
            ctx.check()
            state = obs._state(loader)
            state.iter_at = ctx.backwards  # before a stop: training went on to this epoch
            if not ctx.overfit and state.kind == "train" and obs._train_epochs >= ctx.cfg.epochs:
                ctx.stop("epochs")
            state.epoch += 1
            state.in_epoch = 0
            state.train_epoch_no = None
            state.backward_since_batch = False
            return _LoaderIter(obs, state, orig(loader))

        return __iter__

    def _state(self, loader: DataLoader[Any]) -> LoaderState:
        state = self._states.get(loader)
        if state is not None:
            return state
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        try:
            length: int | None = len(loader.dataset)  # type: ignore[arg-type]
        except TypeError:
            length = None
        meta: LoaderMeta = {
            "sampler": type(sampler).__name__ if sampler is not None else None,
            "batch_sampler": type(batch_sampler).__name__ if batch_sampler is not None else None,
            "shuffle": isinstance(sampler, torch.utils.data.RandomSampler),
            "batch_size": getattr(loader, "batch_size", None),
            "dataset": type(loader.dataset).__name__,
            "dataset_len": length,
            "num_workers": getattr(loader, "num_workers", 0),
            "iterable": isinstance(loader.dataset, torch.utils.data.IterableDataset),
        }
        state = LoaderState(lid=len(self.loaders), meta=meta)
        state.tensors = dataset_arrays(loader.dataset)
        try:
            state.length = len(loader)
        except TypeError:
            state.length = None
        self._states[loader] = state
        if len(self.loaders) < MAX_LOADERS:
            self.loaders.append(state)
        self.ctx.w.write("loader", lid=state.lid, meta=meta)
        return state

    def next_batch(self, state: LoaderState, it: Iterator[Any]) -> Any:
        ctx = self.ctx
        ctx.check()
        self._new_batch()
        if state.in_epoch > 0 and state.kind == "unknown" and not state.backward_since_batch:
            state.kind = "val"
        if ctx.overfit:
            if state.kind == "train" and state.cached is not None:
                self.current = state
                state.backward_since_batch = False
                return state.cached
        else:
            epoch_no = state.train_epoch_no
            if state.kind == "train" and epoch_no is not None and epoch_no > ctx.cfg.epochs:
                ctx.stop("epochs")
        limit = ctx.cfg.train_batches if state.kind == "train" else ctx.cfg.val_batches
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
        self.current = state
        if ctx.overfit and state.cached is None and state.epoch == 1:
            state.cached = batch
        if not ctx.overfit and state.epoch <= ORDER_EPOCHS and state.in_epoch <= ORDER_BATCHES:
            t = largest_tensor(batch)
            if t is not None:
                rows = host_rows(t)
                if rows is not None:
                    state.order.setdefault(state.epoch, []).append(digest(rows.tobytes()))
        return batch

    def _end_of_epoch(self, state: LoaderState) -> None:
        if self.current is state:
            self.current = None

    def on_backward(self) -> None:
        """A backward ran while the current loader's batch was in use: it trains."""
        ld = self.current
        if ld is None:
            return
        ld.backward_since_batch = True
        if ld.kind != "train":
            ld.kind = "train"
        if ld.train_epoch_no is None:
            self._train_epochs += 1
            ld.train_epoch_no = self._train_epochs

    def first_train_epoch(self) -> tuple[bool, int | None]:
        """Whether the current batch lies in the first half of the first training epoch (the
        whole of it when the loader has no length), and how many batches that epoch has
        unbounded (``None`` when it has no length)."""
        ld = self.current
        if ld is None or ld.train_epoch_no != 1:
            return False, None
        if ld.length is not None and ld.in_epoch > ld.length * FIRST_EPOCH_SHARE:
            return False, ld.length
        return True, ld.length

    def role(self, lid: int) -> Role:
        """The role of a loader by id (``unknown`` past the loaders followed)."""
        for st in self.loaders:
            if st.lid == lid:
                return st.kind
        return "unknown"

    def train_tensors(self) -> set[tuple[Any, ...]]:
        """Identities of the arrays the training loaders' datasets hold."""
        out: set[tuple[Any, ...]] = set()
        for st in self.loaders:
            if st.kind == "train":
                out.update(st.tensors)
        return out

    def summary(self) -> list[LoaderSummary]:
        out: list[LoaderSummary] = []
        for st in self.loaders:
            epochs = sorted(st.order)
            same_order = None
            if len(epochs) >= 2:
                first, second = st.order[epochs[0]], st.order[epochs[1]]
                n = min(len(first), len(second))
                if n:
                    same_order = first[:n] == second[:n]
            out.append(
                {
                    "lid": st.lid,
                    "kind": st.kind,
                    "epochs": st.epoch,
                    "batches": st.batches,
                    "same_order": same_order,
                    "iter_at": st.iter_at,
                    **st.meta,
                }
            )
        return out


class _LoaderIter:
    """Wraps a DataLoader iterator: bounds the epoch and records each batch."""

    def __init__(self, obs: LoaderObserver, state: LoaderState, it: Iterator[Any]) -> None:
        self._obs = obs
        self._state = state
        self._it = it

    def __iter__(self) -> _LoaderIter:
        return self

    def __next__(self) -> Any:
        if not self._obs.ctx.mine():
            return next(self._it)
        return self._obs.next_batch(self._state, self._it)

    def __len__(self) -> int:
        return len(self._it)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._it, name)


__all__ = ["LoaderObserver", "LoaderState"]
