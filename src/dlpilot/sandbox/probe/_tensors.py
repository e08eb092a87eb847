"""Tensors inside the user's values: the one walker over nested call arguments and outputs, and the
small tensor measurements the observers share (identities, row digests, parameter snapshots).

Everything that looks for tensors in a module's arguments or output, a loss's root or a batch goes
through :func:`walk`. It is a generator on purpose: a recursive inner function that closes over a
result list forms a reference cycle (the function, its cell, the list), so the list, and every
autograd graph its tensors hold, lives until the cycle collector runs, which the retained-graph
check then reads as the user's script keeping graphs alive.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

TREE_DEPTH = 3
"""Nesting levels of lists, tuples and dicts searched for tensors (``((x, mask), {"y": y})``)."""

ROW_HASH_ELEMENTS = 4096
"""Elements hashed per input row (a fixed stride over larger rows)."""


def walk(obj: Any, max_depth: int = TREE_DEPTH, depth: int = 0) -> Iterator[torch.Tensor]:
    """The tensors of ``obj``, depth first: a tensor, or lists, tuples and dicts of them nested up
    to ``max_depth`` levels (see the module docstring for why this is a generator)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth < max_depth and isinstance(obj, list | tuple):
        for item in obj:
            yield from walk(item, max_depth, depth + 1)
    elif depth < max_depth and isinstance(obj, dict):
        for item in obj.values():
            yield from walk(item, max_depth, depth + 1)


def first_tensor(obj: Any) -> torch.Tensor | None:
    """The first tensor of a call's arguments or a batch (one level deeper than :func:`walk`'s
    default: the first argument of ``model((x, mask))`` inside ``args``)."""
    return next(walk(obj, TREE_DEPTH + 1), None)


def largest_tensor(obj: Any) -> torch.Tensor | None:
    return max(walk(obj), key=lambda t: t.numel(), default=None)


def grad_nodes(obj: Any, limit: int = 8) -> list[Any]:
    """The distinct autograd nodes of the tensors in a module's output, at most ``limit``."""
    nodes: list[Any] = []
    for t in walk(obj):
        if len(nodes) >= limit:
            break
        fn = t.grad_fn
        if fn is not None and not any(fn is n for n in nodes):
            nodes.append(fn)
    return nodes


def clone_tree(obj: Any) -> Any:
    """A detached copy of a call's arguments, same structure (the overfit test replays them)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, tuple):
        return tuple(clone_tree(o) for o in obj)
    if isinstance(obj, list):
        return [clone_tree(o) for o in obj]
    if isinstance(obj, dict):
        return {k: clone_tree(v) for k, v in obj.items()}
    return obj


def same_tree(a: Any, b: Any, depth: int = 0) -> bool:
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
    if depth > TREE_DEPTH:
        return True
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(
            same_tree(x, y, depth + 1) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_tree(a[k], b[k], depth + 1) for k in a)
    return True


def tensor_id(t: torch.Tensor) -> tuple[Any, ...]:
    """Which tensor this is: the same memory, shape and strides."""
    return (t.data_ptr(), tuple(t.shape), tuple(t.stride()), str(t.device))


def array_id(a: np.ndarray) -> tuple[Any, ...] | None:
    """``tensor_id`` of the tensor ``torch.from_numpy(a)`` would make."""
    if a.itemsize == 0 or any(st % a.itemsize for st in a.strides):
        return None
    ptr = a.__array_interface__["data"][0]
    return (ptr, tuple(a.shape), tuple(st // a.itemsize for st in a.strides), "cpu")


def dataset_arrays(dataset: Any) -> list[tuple[Any, ...]]:
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
            out.append(tensor_id(v))
        elif isinstance(v, np.ndarray) and v.ndim > 0:
            aid = array_id(v)
            if aid is not None:
                out.append(aid)
    return out[:16]


def host_rows(t: torch.Tensor) -> np.ndarray | None:
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


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def row_digests(x: torch.Tensor, args: Any, limit: int) -> tuple[set[str], int]:
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
    arrays = [r for r in (host_rows(p) for p in parts) if r is not None and r.ndim == 2]
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
        out.add(digest(b"".join(r[i].tobytes() for r in arrays)))
    return out, skipped


def grad_state(p: torch.Tensor) -> tuple[int, int] | None:
    """Which gradient tensor a parameter holds, and its version (None: no gradient)."""
    g = p.grad
    if g is None:
        return None
    return (id(g), g._version)


def cleared(p: torch.Tensor) -> bool:
    """Whether a parameter's gradient is reset: None, or all zeros (``zero_grad(set_to_none=
    False)``)."""
    g = p.grad
    return g is None or not bool(g.any())


Snapshot = list[tuple[torch.Tensor, torch.Tensor]]
"""Parameters with a copy of (the first elements of) their values."""


def snapshot_params(params: list[torch.Tensor], budget: int) -> Snapshot:
    out: Snapshot = []
    left = budget
    for p in params:
        if left <= 0:
            break
        flat = p.detach().reshape(-1)
        take = flat[:left] if flat.numel() > left else flat
        out.append((p, take.clone()))
        left -= take.numel()
    return out


def changed(snapshot: Snapshot) -> float:
    """The largest change of any copied element since the snapshot."""
    if not snapshot:
        return 0.0
    diffs = []
    for p, old in snapshot:
        cur = p.detach().reshape(-1)[: old.numel()]
        diffs.append((cur.float() - old.float()).abs().max())
    return float(torch.stack([d.to(diffs[0].device) for d in diffs]).max())


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, pos: int, default: Any) -> Any:
    """A call argument given by keyword or by position."""
    if name in kwargs:
        return kwargs[name]
    return args[pos] if len(args) > pos else default


__all__ = [
    "Snapshot",
    "arg",
    "changed",
    "cleared",
    "clone_tree",
    "dataset_arrays",
    "digest",
    "first_tensor",
    "grad_nodes",
    "grad_state",
    "host_rows",
    "largest_tensor",
    "row_digests",
    "same_tree",
    "snapshot_params",
    "tensor_id",
    "walk",
]
