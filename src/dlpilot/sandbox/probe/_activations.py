"""Activations: dead ReLU units and saturated sigmoid / tanh inputs, per call site.

``torch.relu`` / ``torch.sigmoid`` / ``torch.tanh`` and their ``F`` twins are wrapped; while a
sampled training forward runs (the forward observer switches this on), each call is attributed to
its site (the module running it and the how-manieth such call in that module) and reduced on the
device: a ReLU unit is alive once it is positive for any sample, a sigmoid / tanh input is
saturated beyond :data:`SATURATION_ABS`. Module-form activations (``nn.ReLU``) call these too.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._context import RunContext
from ._modules import ModuleIndex
from ._schema import ActivationSite

MAX_SITES = 64
"""Activation call sites (ReLU, sigmoid, tanh) followed."""

SATURATION_ABS = 5.0
"""A sigmoid / tanh pre-activation beyond this magnitude is saturated (checks.md)."""

_WRAPPED = (
    (torch, "relu", "relu"),
    (torch, "relu_", "relu"),
    (torch, "sigmoid", "sigmoid"),
    (torch, "tanh", "tanh"),
    (F, "sigmoid", "sigmoid"),
    (F, "tanh", "tanh"),
)


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


class ActivationObserver:
    """Per call site: ReLU units ever alive, or sigmoid / tanh inputs saturated."""

    def __init__(self, ctx: RunContext, modules: ModuleIndex) -> None:
        self.ctx = ctx
        self.modules = modules
        self._sites: dict[tuple[int, int, str], _Site] = {}
        self._calls: dict[int, int] | None = None  # per module, this forward's calls so far
        self._stack: list[nn.Module] = []

    def install(self) -> None:
        for owner, name, kind in _WRAPPED:
            self.ctx.patch(owner, name, self._maker(kind))

    def start(self, calls: dict[int, int], stack: list[nn.Module]) -> None:
        """Record the activations of the forward now running (its per-module call counts and
        its module stack) until :meth:`stop`."""
        self._calls = calls
        self._stack = stack

    def stop(self) -> None:
        self._calls = None

    def _maker(self, kind: str) -> Callable[[Any], Any]:
        return lambda orig: self._wrap(kind, orig)

    def _wrap(self, kind: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        def act(input: Any, *args: Any, **kwargs: Any) -> Any:
            if self._calls is None or not isinstance(input, torch.Tensor):
                return orig(input, *args, **kwargs)
            pre = input.detach() if kind != "relu" else None
            if pre is not None:
                pre = pre.abs()  # before an in-place op could change it
            out = orig(input, *args, **kwargs)
            try:
                self._note(kind, out, pre)
            except Exception as exc:
                self.ctx.internal("activations", exc)
            return out

        return act

    def _site(self, kind: str) -> _Site | None:
        calls = self._calls
        owner = self._stack[-1] if self._stack else None
        if calls is None or owner is None:
            return None
        idx = calls.get(id(owner), 0)
        calls[id(owner)] = idx + 1
        key = (id(owner), idx, kind)
        site = self._sites.get(key)
        if site is None:
            if len(self._sites) >= MAX_SITES:
                return None
            site = _Site(kind=kind, module=weakref.ref(owner), index=idx)
            self._sites[key] = site
        return site

    def _note(self, kind: str, out: torch.Tensor, pre_abs: torch.Tensor | None) -> None:
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

    def summary(self) -> list[ActivationSite]:
        out: list[ActivationSite] = []
        for site in self._sites.values():
            owner = site.module() if site.module is not None else None
            where = self.modules.name(owner) if owner is not None else "?"
            item: ActivationSite = {
                "kind": site.kind,  # type: ignore[typeddict-item]
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


__all__ = ["ActivationObserver"]
