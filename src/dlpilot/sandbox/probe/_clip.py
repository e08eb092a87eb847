"""Gradient clipping: whether each clip call ran on the gradients of the step it belongs to.

``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` are wrapped. A clip call made when no
backward has run since the last optimizer step (before this step's ``backward()``, or after the
step, on the gradients it already used) clips nothing that the next step uses. Each optimizer
step that follows a clip call is counted; it is *early* when every clip since the previous step
came before the backward(s) that filled the gradients it steps on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._context import RunContext
from ._schema import ClipEvidence

CLIP_FUNCTIONS = ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm")
"""The public clipping functions (``clip_grad_norm`` is the deprecated alias)."""


class ClipObserver:
    """Wraps the clipping functions; owns the ``clip`` part of the summary."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._bw_at_step = 0  # backwards counted when the last optimizer step ran
        self._early = False  # a clip since the last step ran before any backward of this step
        self._late = False  # a clip since the last step ran after a backward of this step
        self._bw_at_clip = 0
        self.evidence: ClipEvidence = {
            "clipped_steps": 0,
            "early_steps": 0,
            "early_first_step": None,
        }

    def install(self) -> None:
        import torch.nn.utils.clip_grad as clip_mod

        for owner in (torch.nn.utils, clip_mod):
            for name in CLIP_FUNCTIONS:
                if hasattr(owner, name):
                    self.ctx.patch(owner, name, self._wrap)

    def _wrap(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def clip(*args: Any, **kwargs: Any) -> Any:
            if self.ctx.mine() and not self.ctx.overfit:
                if self.ctx.backwards > self._bw_at_step:
                    self._late = True
                else:
                    self._early = True
                    self._bw_at_clip = self.ctx.backwards
                    self.ctx.mark("clip_early")
            return orig(*args, **kwargs)

        return clip

    def step_pre(self) -> None:
        """Before an optimizer step: judge the clip calls made since the previous step."""
        ctx = self.ctx
        if self._early or self._late:
            ev = self.evidence
            ev["clipped_steps"] += 1
            if self._early and not self._late and ctx.backwards > self._bw_at_clip:
                ev["early_steps"] += 1
                if ev["early_first_step"] is None:
                    ev["early_first_step"] = ctx.count()
        self._early = self._late = False
        self._bw_at_step = ctx.backwards


__all__ = ["ClipObserver"]
