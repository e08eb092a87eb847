"""Small helpers on names and expressions shared by the setup rules.

A *role* is what a variable name says about the data it holds: ``train_loader`` is training data,
``val_ds`` / ``testset`` / ``eval_dataset`` are held-out data, ``loader`` says nothing. Roles are
read from the words of an identifier, so ``interval`` or ``value`` are not mistaken for "val".
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from dlpilot.tools.inspect._astnames import dotted
from dlpilot.tools.inspect._base import is_test_path

Role = Literal["train", "eval"]

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_EVAL_EXACT = frozenset({"dev", "devset", "eval", "val", "valid", "test", "holdout", "heldout"})
_EVAL_PREFIXES = ("val", "valid", "validation", "test", "eval", "holdout", "heldout", "devset")
_NOT_EVAL_PREFIXES = ("valu", "testimon")  # value(s), testimony; "validate" stays eval


def role(name: str | None) -> Role | None:
    """The data role an identifier or string names, or ``None`` when it names neither or both."""
    if not name:
        return None
    is_train = is_eval = False
    for raw in _WORD.findall(name):
        w = raw.lower()
        if w.startswith(("train", "trn")) and not w.startswith("trainer"):
            is_train = True
        elif w in _EVAL_EXACT or (
            w.startswith(_EVAL_PREFIXES) and not w.startswith(_NOT_EVAL_PREFIXES)
        ):
            is_eval = True
    if is_train == is_eval:
        return None
    return "train" if is_train else "eval"


def last_name(node: ast.expr) -> str:
    """The final name of a callee or value: ``DataLoader`` for ``torch.utils.data.DataLoader``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return last_name(node.func)
    return ""


def base_name(node: ast.expr) -> str:
    """The variable an expression starts from: ``df`` for ``df[cols].values``; ``""`` if none."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
            node = node.value
        else:
            return ""


def target_names(target: ast.expr) -> list[str]:
    """The names bound by an assignment target (``a, (b, c)`` -> ``a b c``; ``self.x`` -> ``x``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Attribute):
        return [target.attr]
    if isinstance(target, ast.Tuple | ast.List):
        out: list[str] = []
        for elt in target.elts:
            out.extend(target_names(elt))
        return out
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def const_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def has_star_kwargs(call: ast.Call) -> bool:
    return any(kw.arg is None for kw in call.keywords)


def is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, 0, None)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


__all__ = [
    "Role",
    "base_name",
    "const_str",
    "dotted",
    "has_star_kwargs",
    "is_false",
    "is_test_path",
    "kwarg",
    "last_name",
    "line_of",
    "role",
    "target_names",
]
