"""Training frameworks that run the loop themselves: the probe bounds them through their own
settings instead of cutting their data loaders.

A Lightning ``Trainer`` whose training loader is cut short by the loader observer (a
``StopIteration`` in the middle of its epoch) ends the epoch without running validation, so
callbacks that monitor a validation metric (``EarlyStopping(monitor="val_loss")``,
``ModelCheckpoint``) fail on a metric that was never logged: a false crash. In script mode the
Trainer is therefore built with the probe's bounds as its own limits (``limit_train_batches``,
``limit_val_batches``, ``max_epochs``): Lightning ends each epoch where the probe would, runs its
(bounded) validation, and its callbacks see their metrics. Only shortening, never lengthening:
a user's smaller integer limit is kept. The Trainer module is patched when it is imported (an
import hook), so a script that never imports Lightning pays nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from ._context import RunContext

TRAINER_MODULES = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
"""Where the Lightning ``Trainer`` class is defined (the unified and the standalone package)."""


def _int_limit(user: Any, ours: int) -> Any:
    """The smaller of a user's batch limit and ours; a fraction (float) becomes our count."""
    if isinstance(user, bool):
        return ours
    if isinstance(user, int):
        return user if 0 <= user <= ours else ours
    if isinstance(user, float) and user == 0.0:
        return user  # validation switched off: keep it off
    return ours


def bounded_trainer_kwargs(kwargs: dict[str, Any], train: int, val: int, epochs: int) -> None:
    """Rewrite a ``Trainer(**kwargs)`` call in place so it stays within the probe's bounds."""
    kwargs["limit_train_batches"] = _int_limit(kwargs.get("limit_train_batches"), train)
    for key in ("limit_val_batches", "limit_test_batches", "limit_predict_batches"):
        kwargs[key] = _int_limit(kwargs.get(key), val)
    user_epochs = kwargs.get("max_epochs")
    if not isinstance(user_epochs, int) or isinstance(user_epochs, bool) or user_epochs < 0:
        kwargs["max_epochs"] = epochs
    else:
        kwargs["max_epochs"] = min(user_epochs, epochs)
    interval = kwargs.get("val_check_interval")
    if isinstance(interval, int) and not isinstance(interval, bool):
        # an integer interval longer than the bounded epoch is refused by Lightning
        kwargs["val_check_interval"] = min(interval, kwargs["limit_train_batches"])


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then(module)`` right after one of ``names`` is imported."""

    def __init__(self, names: Sequence[str], then: Callable[[ModuleType], None]) -> None:
        self._names = frozenset(names)
        self._then = then
        self._busy: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._names or fullname in self._busy:
            return None
        self._busy.add(fullname)  # the real finders below answer this one
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _ThenLoader(spec.loader, self._then)
        return spec


class _ThenLoader(importlib.abc.Loader):
    """A module loader that calls ``then(module)`` once the module has run."""

    def __init__(self, inner: importlib.abc.Loader, then: Callable[[ModuleType], None]) -> None:
        self._inner = inner
        self._then = then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        self._then(module)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, is_package...: the module's real loader answers
        return getattr(self._inner, name)


class FrameworkObserver:
    """Bounds framework-run training loops (Lightning's ``Trainer``) in script mode."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.trainers = 0
        """Trainers built with the probe's bounds."""

    def install(self) -> None:
        if self.ctx.overfit:
            return  # the overfit replay runs its own bound on the training batches
        for name in TRAINER_MODULES:
            mod = sys.modules.get(name)
            if mod is not None:
                self._patch(mod)
        pending = [n for n in TRAINER_MODULES if n not in sys.modules]
        if pending:
            hook = _AfterImport(pending, self._patch)
            sys.meta_path.insert(0, hook)
            self.ctx.on_undo(lambda: _remove(hook))

    def _patch(self, module: ModuleType) -> None:
        trainer = getattr(module, "Trainer", None)
        if trainer is None:
            return
        ctx = self.ctx

        def make(original: Callable[..., None]) -> Callable[..., None]:
            def __init__(self_: Any, *args: Any, **kwargs: Any) -> None:
                if ctx.mine():
                    try:
                        cfg = ctx.cfg
                        bounded_trainer_kwargs(
                            kwargs, cfg.train_batches, cfg.val_batches, cfg.epochs
                        )
                        self.trainers += 1
                    except Exception as exc:
                        ctx.internal("lightning-trainer", exc)
                original(self_, *args, **kwargs)

            return __init__

        try:
            ctx.patch(trainer, "__init__", make)
        except Exception as exc:
            ctx.internal("lightning-patch", exc)


def _remove(hook: object) -> None:
    if hook in sys.meta_path:
        sys.meta_path.remove(hook)


__all__ = ["TRAINER_MODULES", "FrameworkObserver", "bounded_trainer_kwargs"]
