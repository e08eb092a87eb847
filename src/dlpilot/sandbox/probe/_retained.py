"""Retained autograd graphs: loss graphs the script keeps alive across steps.

A sentinel object is put in the metadata of each followed loss graph's root node: it lives exactly
as long as the graph. A graph still alive :data:`RETAIN_AGE_STEPS` steps after it was made is one
the script holds (``total_loss += loss`` without ``.item()``, a list of losses), which makes memory
grow every step.
"""

from __future__ import annotations

import weakref
from typing import Any, cast

import torch

MAX_RETAIN_SENTINELS = 24
"""Loss graphs followed for liveness (graphs kept alive across steps)."""

RETAIN_AGE_STEPS = 3
"""A loss graph still alive this many optimizer steps after it was made is retained."""


class _Sentinel:
    """Lives in a loss graph node's metadata: alive exactly as long as the graph."""

    __slots__ = ("__weakref__",)


class RetainedGraphs:
    """Follows loss graphs; ``retained_max`` / ``retained_first_step`` go to the loop evidence."""

    def __init__(self) -> None:
        self._sentinels: list[tuple[int, weakref.ref[_Sentinel]]] = []
        self.retained_max = 0
        self.retained_first_step: int | None = None

    def attach(self, out: torch.Tensor, step: int) -> None:
        """Follow the graph of ``out`` (made at ``step``)."""
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
        live.append((step, weakref.ref(sentinel)))
        self._sentinels = live

    def check(self, count: int) -> None:
        """At the end of step ``count``: how many followed graphs are old and still alive."""
        alive = sum(
            1 for s, r in self._sentinels if count - s >= RETAIN_AGE_STEPS and r() is not None
        )
        if alive > self.retained_max:
            self.retained_max = alive
            if self.retained_first_step is None and alive >= 2:
                self.retained_first_step = count


__all__ = ["RetainedGraphs"]
