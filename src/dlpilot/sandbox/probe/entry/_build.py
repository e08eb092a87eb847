"""Build the project's parts from the ``[tool.dlpilot]`` factories; draw batches from its data."""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

from ._protocol import EntryStageError, stage

SEED = 0
"""Seed of every random choice the probe makes (batch order, initial weights via the factory)."""

INPUT_KEYS = ("x", "input", "inputs", "image", "images", "features", "data", "input_ids")
TARGET_KEYS = ("y", "label", "labels", "target", "targets")

LossFn = Callable[..., torch.Tensor]


def add_project_to_path(project_dir: Path) -> None:
    for entry in (project_dir / "src", project_dir):
        if entry.is_dir() and str(entry) not in sys.path:
            sys.path.insert(0, str(entry))


def resolve(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    with stage(f"importing {module_name!r} for {ref!r}"):
        obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise EntryStageError(f"resolving {ref!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def call_factory(key: str, ref: str, kwargs: dict[str, Any], *args: Any) -> Any:
    factory = resolve(ref)
    if not callable(factory):
        raise EntryStageError(f"{key} = {ref!r} is a {type(factory).__name__}, not callable")
    with stage(f"building {key} from {ref}"):
        return factory(*args, **kwargs)


# --- loss ---------------------------------------------------------------------------------------

_KINDS: tuple[tuple[str, tuple[type[nn.Module], ...], tuple[Callable[..., Any], ...]], ...] = (
    ("ce", (nn.CrossEntropyLoss,), (F.cross_entropy,)),
    ("nll", (nn.NLLLoss,), (F.nll_loss,)),
    ("bce_logits", (nn.BCEWithLogitsLoss,), (F.binary_cross_entropy_with_logits,)),
    ("bce", (nn.BCELoss,), (F.binary_cross_entropy,)),
    (
        "regression",
        (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss),
        (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss),
    ),
)


def _is_loss_function(fn: Any) -> bool:
    """A function taking (prediction, target) rather than a factory returning a loss."""
    if getattr(fn, "__module__", "") == "torch.nn.functional":
        return True
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(required) >= 2


def build_loss(ref: str, kwargs: dict[str, Any]) -> LossFn:
    obj = resolve(ref)
    if isinstance(obj, type):
        with stage(f"building loss from {ref}"):
            return obj(**kwargs)  # type: ignore[no-any-return]
    if not callable(obj):
        raise EntryStageError(f"loss = {ref!r} is a {type(obj).__name__}, not callable")
    if _is_loss_function(obj):
        return functools.partial(obj, **kwargs) if kwargs else obj
    with stage(f"building loss from {ref}"):
        return obj(**kwargs)  # type: ignore[no-any-return]


def loss_kind(loss: LossFn) -> str:
    target: Any = loss.func if isinstance(loss, functools.partial) else loss
    for kind, classes, functions in _KINDS:
        if isinstance(target, classes) or any(target is f for f in functions):
            return kind
    return "other"


def ignore_index(loss: LossFn) -> int:
    if isinstance(loss, functools.partial):
        return int(loss.keywords.get("ignore_index", -100))
    return int(getattr(loss, "ignore_index", -100))


# --- batches ------------------------------------------------------------------------------------


def split_batch(batch: Any) -> tuple[Any, Any]:
    """(input, target) of a batch: a tuple/list ``(x, y, ...)`` or a dict with known keys."""
    if isinstance(batch, list | tuple) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, dict):
        x = next((batch[k] for k in INPUT_KEYS if k in batch), None)
        y = next((batch[k] for k in TARGET_KEYS if k in batch), None)
        if x is not None and y is not None:
            return x, y
        raise EntryStageError(
            f"a batch is a dict with keys {sorted(batch)}; entry mode needs an input key "
            f"({', '.join(INPUT_KEYS)}) and a target key ({', '.join(TARGET_KEYS)})"
        )
    raise EntryStageError(
        f"a batch is a {type(batch).__name__}; entry mode needs (input, target) pairs or a dict"
    )


def model_output(out: Any) -> torch.Tensor:
    """The prediction tensor of a model's output (a tensor, a tuple's first, ``.logits``)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict) and "logits" in out:
        return out["logits"]  # type: ignore[no-any-return]
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, list | tuple) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise EntryStageError(f"the model returned a {type(out).__name__}; expected a tensor")


def to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    return value


def _is_map_style(ds: Any) -> bool:
    if isinstance(ds, IterableDataset):
        return False
    try:
        len(ds)
    except TypeError:
        return False
    return hasattr(ds, "__getitem__")


class Data:
    """A Dataset or DataLoader from a factory, drawn from in seeded random batches."""

    def __init__(self, name: str, obj: Any, batch_size: int) -> None:
        self.name = name
        self.batch_size = batch_size
        self.loader: DataLoader[Any] | None = None
        self.collate: Callable[[list[Any]], Any] = default_collate
        ds = obj
        if isinstance(obj, DataLoader):
            self.loader = obj
            ds = obj.dataset
            if obj.batch_size is not None:
                self.collate = obj.collate_fn
                self.batch_size = obj.batch_size
        elif not isinstance(obj, Dataset) and not _is_map_style(obj):
            raise EntryStageError(
                f"{name} factory returned a {type(obj).__name__}; expected a Dataset or DataLoader"
            )
        self.dataset: Any = ds if _is_map_style(ds) else None
        if self.dataset is None and self.loader is None:
            self.loader = DataLoader(obj, batch_size=batch_size)

    def forever(self, *, seed: int = SEED) -> Iterator[Any]:
        """Batches without end: a new seeded order each pass over the data."""
        epoch = 0
        while True:
            empty = True
            for batch in self.batches(sys.maxsize, seed=seed + epoch):
                empty = False
                yield batch
            if empty:
                raise EntryStageError(f"{self.name} yielded no batches")
            epoch += 1

    def size(self) -> int | None:
        return len(self.dataset) if self.dataset is not None else None

    def _collate(self, items: list[Any]) -> Any:
        with stage(f"collating samples of {self.name}"):
            return self.collate(items)

    def _get(self, i: int) -> Any:
        with stage(f"reading sample {i} of {self.name}"):
            return self.dataset[i]

    def batches(
        self, count: int, batch_size: int | None = None, *, seed: int = SEED
    ) -> Iterator[Any]:
        """Up to ``count`` batches in a seeded random order (map-style) or the loader's order."""
        size = batch_size or self.batch_size
        if self.dataset is not None:
            g = torch.Generator().manual_seed(seed)
            n = len(self.dataset)
            order = torch.randperm(n, generator=g).tolist()
            for b in range(count):
                chunk = order[b * size : (b + 1) * size]
                if not chunk or (b > 0 and len(chunk) < size):
                    return  # drop a short last batch (batch norm cannot take one sample)
                yield self._collate([self._get(i) for i in chunk])
            return
        assert self.loader is not None
        with stage(f"iterating {self.name}"):
            for b, batch in enumerate(self.loader):
                if b >= count:
                    return
                yield batch

    def batch_of(self, size: int, *, seed: int = SEED) -> Any:
        """One batch of ``size`` samples (fewer if the data is smaller)."""
        if self.dataset is not None:
            return next(self.batches(1, min(size, len(self.dataset)), seed=seed))
        xs: list[Any] = []
        ys: list[Any] = []
        got = 0
        for batch in self.batches(math.ceil(size / max(1, self.batch_size)) + 1):
            x, y = split_batch(batch)
            xs.append(x)
            ys.append(y)
            got += len(y)
            if got >= size:
                break
        if not xs:
            raise EntryStageError(f"{self.name} yielded no batches")
        return torch.cat(xs)[:size], torch.cat(ys)[:size]

    def inputs(self, limit: int) -> Iterator[tuple[int, Any]]:
        """(position, input) of single samples, at most ``limit``, for hashing."""
        if self.dataset is not None:
            for i in range(min(limit, len(self.dataset))):
                yield i, split_batch(self._get(i))[0]
            return
        pos = 0
        for batch in self.batches(limit):
            x, _ = split_batch(batch)
            for row in x:
                if pos >= limit:
                    return
                yield pos, row
                pos += 1


# --- the parts ----------------------------------------------------------------------------------


@dataclass
class Parts:
    config: dict[str, Any]
    model: nn.Module
    train: Data
    val: Data | None
    loss: LossFn
    kind: str

    @property
    def lr(self) -> float:
        return float(self.config["lr"])

    def make_optimizer(self, model: nn.Module, lr: float | None = None) -> torch.optim.Optimizer:
        ref = self.config["optimizer"]
        opt = call_factory(
            "optimizer",
            ref,
            dict(self.config.get("optimizer_kwargs") or {}, lr=self.lr if lr is None else lr),
            model.parameters(),
        )
        if not isinstance(opt, torch.optim.Optimizer):
            raise EntryStageError(f"optimizer = {ref!r} returned a {type(opt).__name__}")
        return opt

    def fresh_model(self) -> nn.Module:
        return copy.deepcopy(self.model)

    def compute_loss(self, pred: torch.Tensor, y: Any) -> torch.Tensor:
        with stage(
            f"computing the loss {self.config['loss']} on a prediction of shape "
            f"{tuple(pred.shape)} and a target of shape {tuple(getattr(y, 'shape', ()))}"
        ):
            return self.loss(pred, y)

    def forward(self, model: nn.Module, x: Any) -> torch.Tensor:
        with stage(f"running the model from {self.config['model']}"):
            return model_output(model(x))


def build_parts(config: dict[str, Any]) -> Parts:
    torch.manual_seed(SEED)
    add_project_to_path(Path(config["project_dir"]))
    model = call_factory("model", config["model"], config.get("model_kwargs") or {})
    if not isinstance(model, nn.Module):
        raise EntryStageError(
            f"model = {config['model']!r} returned a {type(model).__name__}, not an nn.Module"
        )
    bs = int(config["batch_size"])
    train = Data(
        "train_data",
        call_factory("train_data", config["train_data"], config.get("train_data_kwargs") or {}),
        bs,
    )
    val = None
    if config.get("val_data"):
        val = Data(
            "val_data",
            call_factory("val_data", config["val_data"], config.get("val_data_kwargs") or {}),
            bs,
        )
    loss = build_loss(config["loss"], config.get("loss_kwargs") or {})
    return Parts(config=config, model=model, train=train, val=val, loss=loss, kind=loss_kind(loss))
