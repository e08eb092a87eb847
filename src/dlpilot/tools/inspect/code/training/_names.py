"""Naming helpers: turn expressions into dotted strings and tell what a name probably stands for.

Static rules cannot know types, so they judge names: ``optimizer.step()`` is an optimizer step,
``scheduler.step()`` is not. Every guess here errs towards "unknown", which rules treat as "stay
silent".
"""

from __future__ import annotations

import ast
import re

from dlpilot.tools.inspect._astnames import dotted

# Receivers of ``.step()`` that are not optimizers (learning-rate schedulers, RL environments, ...).
_NOT_OPTIMIZER = re.compile(r"sched|lr|warmup|env|swa|ema|scaler|trainer|engine|progress|bar|pbar")
_OPTIMIZER = re.compile(r"opt")
# Objects whose ``backward(loss)`` method back-propagates a loss for the user.
_BACKWARD_WRAPPER = re.compile(
    r"(?:^|_)(?:accelerat|fabric|engine|deepspeed|strategy|booster|trainer|self|manager|scaler)"
)
_MODEL_WORD = re.compile(
    r"model|net|encoder|decoder|classifier|backbone|generator|discriminator|critic|actor|policy|"
    r"transformer|bert|gpt|resnet|vit|unet|cnn|rnn|lstm|gru|mlp|autoencoder|student|clf"
)
_NOT_MODEL_WORD = re.compile(r"loss|criterion|optim|sched|metric|loader|dataset|tokenizer")
_OPTIMIZER_CLASSES = frozenset(
    {
        "SGD",
        "Adam",
        "AdamW",
        "Adamax",
        "Adagrad",
        "Adadelta",
        "RMSprop",
        "Rprop",
        "ASGD",
        "NAdam",
        "RAdam",
        "LBFGS",
        "SparseAdam",
        "Adafactor",
        "Lion",
        "LAMB",
        "Lamb",
        "FusedAdam",
        "FusedLAMB",
        "AdamW8bit",
        "Adam8bit",
        "SophiaG",
        "Muon",
    }
)
_SCHEDULER_CALL = re.compile(r"LR$|Scheduler|schedule|Plateau|SWALR|Warmup|warmup|sched")
# Calls that receive an optimizer but never step it.
_NON_STEPPING_CALLS = frozenset(
    {"print", "len", "isinstance", "getattr", "hasattr", "type", "id", "repr", "str", "prepare"}
)


def last(name: str) -> str:
    """The last component of a dotted name: ``self.optimizer`` -> ``optimizer``."""
    return name.rsplit(".", 1)[-1]


def root(name: str) -> str:
    """The first component of a dotted name: ``self.optimizer`` -> ``self``."""
    return name.split(".", 1)[0]


def call_attr(call: ast.Call) -> str:
    """The called name's last component: ``torch.nn.functional.softmax(x)`` -> ``softmax``."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def is_optimizer_name(name: str, known: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether a ``.step()`` receiver is probably an optimizer."""
    if not name:
        return False
    if name in known or last(name) in known:
        return True
    low = last(name).lower()
    return bool(_OPTIMIZER.search(low)) and not _NOT_OPTIMIZER.search(low)


def is_scheduler_name(name: str) -> bool:
    low = last(name).lower()
    return bool(re.search(r"sched|lr|warmup|swa", low))


def is_backward_wrapper(name: str) -> bool:
    """Whether ``name.backward(loss)`` is a framework back-propagating ``loss`` (accelerate)."""
    return bool(name) and bool(_BACKWARD_WRAPPER.search(last(name).lower()))


def is_model_name(name: str) -> bool:
    """Whether a callable's name reads like a model (``model``, ``self.net``, ``encoder``)."""
    low = last(name).lower()
    if not low or _NOT_MODEL_WORD.search(low):
        return False
    return bool(_MODEL_WORD.search(low))


def is_optimizer_class(call: ast.Call) -> bool:
    attr = call_attr(call)
    if attr in _OPTIMIZER_CLASSES:
        return True
    func = dotted(call.func)
    return ".optim." in f".{func}" and attr[:1].isupper() and not _SCHEDULER_CALL.search(attr)


def is_scheduler_call(call: ast.Call) -> bool:
    return bool(_SCHEDULER_CALL.search(call_attr(call)))


def is_non_stepping_call(call: ast.Call) -> bool:
    return call_attr(call) in _NON_STEPPING_CALLS or is_scheduler_call(call)


def unwrap_device(node: ast.expr) -> ast.expr:
    """``Net().to(device).cuda()`` -> ``Net()``: moving a module keeps what it is."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr
        in {"to", "cuda", "cpu", "float", "half", "double", "bfloat16", "train", "eval"}
    ):
        node = node.func.value
    return node


def const_bool(node: ast.expr | None) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


__all__ = [
    "call_attr",
    "const_bool",
    "dotted",
    "is_backward_wrapper",
    "is_model_name",
    "is_non_stepping_call",
    "is_optimizer_class",
    "is_optimizer_name",
    "is_scheduler_call",
    "is_scheduler_name",
    "last",
    "root",
    "unwrap_device",
]
