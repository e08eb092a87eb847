"""Module state: which modules are models, their names, which are frozen, which were trained.

Shared by the other observers to name what they found (``encoder.fc1 (Linear)``) and to tell a
model's top-level call from its submodules' calls.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from ._context import RunContext

MAX_TOPS = 16
"""Top-level models followed (a GAN has two, a teacher-student setup a few)."""

FROZEN_CACHE_STEPS = 50
"""Steps a module's frozen / trainable answer is cached (a script may unfreeze a backbone)."""

_LOSS_BASE = nn.modules.loss._Loss


class ModuleIndex:
    """Names, parents and frozen state of the modules seen, and the top-level models trained."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.tops: dict[int, weakref.ref[nn.Module]] = {}
        self.trained_tops: set[int] = set()
        """Top-level models a backward ran through."""
        self._is_model: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()
        self._names: weakref.WeakKeyDictionary[nn.Module, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._parents: dict[int, nn.Module] = {}
        self._frozen: dict[int, bool] = {}
        self._frozen_at = 0
        self._pnames: dict[int, str] | None = None

    def is_model(self, module: nn.Module) -> bool:
        """A module with parameters that is not a loss."""
        cached = self._is_model.get(module)
        if cached is None:
            cached = not isinstance(module, _LOSS_BASE) and (
                next(module.parameters(), None) is not None
            )
            self._is_model[module] = cached
        return cached

    def index_top(self, top: nn.Module) -> None:
        if id(top) in self.tops:
            return
        if len(self.tops) < MAX_TOPS:
            self.tops[id(top)] = weakref.ref(top)
        for name, sub in top.named_modules():
            if sub not in self._names:
                self._names[sub] = (type(top).__name__, name)
            for child in sub.children():
                self._parents.setdefault(id(child), sub)

    def name(self, m: nn.Module) -> str:
        _top, name = self._names.get(m, (type(m).__name__, ""))
        return f"{name} ({type(m).__name__})" if name else type(m).__name__

    def is_frozen(self, m: nn.Module) -> bool:
        """Whether none of the module's own parameters (or, for a module without any, its
        parent's) requires grad."""
        count = self.ctx.count()
        if count - self._frozen_at > FROZEN_CACHE_STEPS:
            self._frozen.clear()
            self._frozen_at = count
        key = id(m)
        if key not in self._frozen:
            own = list(m.parameters(recurse=False))
            if not own:
                parent = self._parents.get(key)
                own = list(parent.parameters()) if parent is not None else []
            self._frozen[key] = bool(own) and not any(p.requires_grad for p in own)
        return self._frozen[key]

    def trained_params(self) -> list[torch.Tensor]:
        """The trainable parameters of the models a backward ran through."""
        out: list[torch.Tensor] = []
        for key in self.trained_tops:
            ref = self.tops.get(key)
            top = ref() if ref is not None else None
            if top is not None:
                out.extend(p for p in top.parameters() if p.requires_grad)
        return out

    def frozen_count(self) -> int:
        """Parameters of the models a backward ran through that do not require a gradient."""
        n = 0
        for key in self.trained_tops:
            ref = self.tops.get(key)
            top = ref() if ref is not None else None
            if top is not None:
                n += sum(1 for p in top.parameters() if not p.requires_grad)
        return n

    def param_name(self, p: torch.Tensor) -> str:
        names = self._pnames
        if names is None or id(p) not in names:
            names = {}
            for key in self.trained_tops | set(self.tops):
                ref = self.tops.get(key)
                top = ref() if ref is not None else None
                if top is None:
                    continue
                for n, q in top.named_parameters():
                    names.setdefault(id(q), n)
            self._pnames = names
        return str(names.get(id(p), f"<{tuple(p.shape)} parameter>"))


__all__ = ["ModuleIndex"]
