"""Rule on mixed precision: float16 autocast with backward passes and no gradient scaler."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Rule, SourceFile
from dlpilot.tools.inspect.code._names import const_bool, dotted
from dlpilot.tools.inspect.code.training._index import index_of

# Text that shows loss scaling is handled: a scaler, apex, or a framework that scales for the user.
_SCALING = ("GradScaler", "scale_loss", "loss_scale", "Accelerator", "deepspeed", "Fabric")


def autocast_dtype(call: ast.Call, text: str) -> str:
    """``fp16``, ``bf16``, ``off`` or ``""`` (cannot tell) for an autocast call."""
    for kw in call.keywords:
        if kw.arg == "enabled" and const_bool(kw.value) is False:
            return "off"
    for kw in call.keywords:
        if kw.arg == "dtype":
            name = dotted(kw.value)
            if name.endswith("bfloat16"):
                return "bf16"
            if name.endswith(("float16", "half")):
                return "fp16"
            return ""
    owner = dotted(call.func)
    if owner.endswith("cuda.amp.autocast"):
        return "fp16"
    if owner.endswith("cpu.amp.autocast"):
        return "bf16"
    if owner == "autocast" and "cuda.amp import" in text:
        return "fp16"
    device: ast.expr | None = call.args[0] if call.args else None
    for kw in call.keywords:
        if kw.arg == "device_type":
            device = kw.value
    if isinstance(device, ast.Constant) and isinstance(device.value, str):
        return "fp16" if device.value.startswith("cuda") else "bf16"
    return ""


class AmpScalerRule(Rule):
    """float16 autocast around a training step whose backward pass is not scaled."""

    ids: ClassVar[tuple[str, ...]] = ("amp.no-grad-scaler",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "autocast" not in text or "backward(" not in text:
            return []
        if any(word in text for word in _SCALING):
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            casts = [e for e in scope.events if e.kind == "autocast"]
            if not casts:
                continue
            backs = [e for e in scope.events if e.kind == "call" and e.role == "backward"]
            if not backs or any(e.extra != "tensor" for e in backs):
                continue
            for cast in casts:
                assert isinstance(cast.node, ast.Call)
                if autocast_dtype(cast.node, text) != "fp16":
                    continue
                out.append(
                    finding(
                        "amp.no-grad-scaler",
                        "float16 autocast is used for training without a gradient scaler, so "
                        "small gradients underflow to zero; use `scaler = torch.amp.GradScaler()` "
                        "with `scaler.scale(loss).backward()` and `scaler.step(optimizer)`, or "
                        "autocast to bfloat16.",
                        how="static",
                        file=f.rel,
                        line=cast.line,
                        detail={"backward_line": backs[0].line},
                    )
                )
                break
        return out


__all__ = ["AmpScalerRule", "autocast_dtype"]
