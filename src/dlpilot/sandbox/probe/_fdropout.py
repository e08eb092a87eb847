"""Functional dropout left on in eval mode.

``torch.nn.functional.dropout`` (and its 1-d / 2-d / 3-d and alpha forms) is wrapped. A
``Dropout`` module passes its own ``training`` flag, so after ``model.eval()`` it calls these
with ``training=False``; a model that calls ``F.dropout(x, p)`` (the flag defaults to True)
without ``training=self.training`` asks for active dropout inside a forward of a model in eval
mode. Such calls are counted, with the first place they are made from; a call from inside a
``Dropout`` module follows that module's own flag (switched on for MC dropout on purpose) and is
left to the mode rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn.functional as F
from torch import nn

from ._context import RunContext
from ._forward import ForwardObserver
from ._schema import DropoutEvidence

DROPOUT_FUNCTIONS = (
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
)
"""The functional dropouts whose ``training`` flag defaults to True (``alpha_dropout`` and
``feature_alpha_dropout`` default to False: counted only when a caller passes True)."""


def _active(args: tuple[Any, ...], kwargs: dict[str, Any], default: bool) -> bool:
    p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
    training = kwargs.get("training", args[2] if len(args) > 2 else default)
    try:
        return bool(training) and float(p) > 0.0
    except (TypeError, ValueError):
        return False


class FunctionalDropoutObserver:
    """Wraps the functional dropouts; owns the ``dropout`` part of the summary."""

    def __init__(self, ctx: RunContext, forward: ForwardObserver) -> None:
        self.ctx = ctx
        self.forward = forward
        self.evidence: DropoutEvidence = {"eval_calls": 0, "eval_first_step": None}

    def install(self) -> None:
        for name in DROPOUT_FUNCTIONS:
            if hasattr(F, name):
                default = name not in ("alpha_dropout", "feature_alpha_dropout")
                self.ctx.patch(F, name, self._wrap(default))

    def _wrap(self, default: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(orig: Callable[..., Any]) -> Callable[..., Any]:
            def dropout(*args: Any, **kwargs: Any) -> Any:
                if self.ctx.mine() and not self.ctx.overfit:
                    try:
                        self._note(args, kwargs, default)
                    except Exception as exc:
                        self.ctx.internal("functional-dropout", exc)
                return orig(*args, **kwargs)

            return dropout

        return make

    def _note(self, args: tuple[Any, ...], kwargs: dict[str, Any], default: bool) -> None:
        top = self.forward.current_top()
        if top is None or top.training or not _active(args, kwargs, default):
            return
        if isinstance(self.forward.innermost(), nn.modules.dropout._DropoutNd):
            return  # a Dropout module's own flag (switched on for MC dropout on purpose)
        ev = self.evidence
        ev["eval_calls"] += 1
        if ev["eval_first_step"] is None:
            ev["eval_first_step"] = self.ctx.count()
            self.ctx.mark("dropout_eval")


__all__ = ["FunctionalDropoutObserver"]
