"""Where a file trains: a backward pass with an optimizer step (or a hand-written update), or a
framework Trainer, and the framework defaults its arguments switch off."""

from __future__ import annotations

import ast

from dlpilot.tools.inspect.code._names import const_str, dotted, is_false, kwarg
from dlpilot.tools.inspect.code.setup.facts._context import WalkContext
from dlpilot.tools.inspect.code.setup.facts._file import Framework


class TrainingFacts(WalkContext):
    """Collects ``backward_line``, ``has_step``, ``manual_update``, ``trainer_line``,
    ``frameworks`` and ``disabled``."""

    def _training_call(self, call: ast.Call, name: str) -> None:
        func = call.func
        facts = self.facts
        if name in ("backward", "manual_backward") and isinstance(func, ast.Attribute):
            if facts.backward_line is None and not dotted(func.value).endswith("autograd"):
                facts.backward_line = call.lineno
        elif name == "step" and isinstance(func, ast.Attribute):
            facts.has_step = True
        elif _loss_scaler_call(call, name):
            # timm's NativeScaler: loss_scaler(loss, optimizer, ...) backpropagates and steps
            if facts.backward_line is None:
                facts.backward_line = call.lineno
            facts.has_step = True
        elif name in ("sub_", "add_") and _mentions_grad(call):
            # a manual update: p.sub_(lr * p.grad), p.add_(p.grad, alpha=-lr)
            facts.has_step = facts.manual_update = True
        elif name.endswith("Trainer") and name[:1].isupper():
            self._trainer(call, name)
        elif name == "instantiate" and call.args and _names_trainer(call.args[0]):
            self._trainer(call, name)  # hydra.utils.instantiate(cfg.trainer)
        elif name.endswith("TrainingArguments") or name in ("SFTConfig", "DPOConfig"):
            self._hf_args(call)

    def _training_augassign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Sub) and _mentions_grad(node.value):
            self.facts.has_step = self.facts.manual_update = True  # p -= lr * p.grad

    def _trainer(self, call: ast.Call, name: str) -> None:
        fw: Framework | None = None
        text = self.f.text
        head = dotted(call.func).split(".")[0]
        kws = {kw.arg for kw in call.keywords}
        if head in ("pl", "L", "lightning", "pytorch_lightning") or "lightning" in text:
            fw = "lightning"
        elif (
            "transformers" in text
            or "trl" in text
            or "TrainingArguments" in text
            or kws & {"args", "train_dataset", "processing_class", "tokenizer"}
        ):
            fw = "hf"
        elif kws & {"max_epochs", "accelerator", "devices", "callbacks", "precision"}:
            fw = "lightning"
        if fw is None:
            return
        self.facts.frameworks.add(fw)
        if self.facts.trainer_line is None:
            self.facts.trainer_line = call.lineno
        if fw == "lightning":
            if is_false(kwarg(call, "enable_checkpointing")):
                self.facts.disabled.add("checkpoint")
            if is_false(kwarg(call, "logger")):
                self.facts.disabled.add("track")

    def _hf_args(self, call: ast.Call) -> None:
        save = const_str(kwarg(call, "save_strategy"))
        if save == "no":
            self.facts.disabled.add("checkpoint")
        if const_str(kwarg(call, "lr_scheduler_type")) == "constant":
            self.facts.disabled.add("schedule")
        if is_false(kwarg(call, "max_grad_norm")):
            self.facts.disabled.add("clip")


def _loss_scaler_call(call: ast.Call, name: str) -> bool:
    """``loss_scaler(loss, optimizer, ...)``: a scaler object called on a loss and an optimizer."""
    if not name.lower().endswith("scaler") or len(call.args) < 2:
        return False
    return "loss" in dotted(call.args[0]).lower() and "opt" in dotted(call.args[1]).lower()


def _names_trainer(node: ast.expr) -> bool:
    """``cfg.trainer`` / ``config["trainer"]``: a config node that describes a Trainer."""
    if isinstance(node, ast.Subscript):
        return (const_str(node.slice) or "").lower() == "trainer"
    return dotted(node).rsplit(".", 1)[-1].lower() == "trainer"


def _mentions_grad(node: ast.AST) -> bool:
    """Whether an expression reads a parameter's ``.grad``."""
    return any(isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node))


__all__ = ["TrainingFacts"]
