"""Loader factories that invert their train flag: ``def make_loader(ds, train): return
DataLoader(ds, shuffle=not train)`` called with ``train=True`` builds an unshuffled training
loader (and a shuffled evaluation one). The flag's value is followed from each call site, in any
file of the project, to the factory's ``shuffle=`` argument."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._astnames import dotted
from dlpilot.tools.inspect._base import Project, Rule, SourceFile

_TRAIN_FLAGS = ("train", "training", "is_train", "is_training", "shuffle_train")
_CALL_WITH_TRUE = re.compile(
    r"\b([A-Za-z_]\w*)\([^()\n]*\b(train|training|is_train|is_training)\s*=\s*True\b"
)


@dataclass(frozen=True, slots=True)
class _Factory:
    name: str
    param: str
    index: int
    rel: str
    line: int


def _inverted(value: ast.expr, params: list[str]) -> str:
    """The train-flag parameter ``value`` inverts (``not train``, ``False if train else True``)."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
        name = dotted(value.operand)
        return name if name in params and name in _TRAIN_FLAGS else ""
    if (
        isinstance(value, ast.IfExp)
        and isinstance(value.body, ast.Constant)
        and value.body.value is False
        and isinstance(value.orelse, ast.Constant)
        and value.orelse.value is True
    ):
        name = dotted(value.test)
        return name if name in params and name in _TRAIN_FLAGS else ""
    return ""


def _factories(f: SourceFile) -> list[_Factory]:
    out: list[_Factory] = []
    for node in ast.walk(f.tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        params = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call) or not dotted(sub.func).endswith("DataLoader"):
                continue
            for kw in sub.keywords:
                param = _inverted(kw.value, params) if kw.arg == "shuffle" else ""
                if param:
                    out.append(_Factory(node.name, param, params.index(param), f.rel, sub.lineno))
    return out


class FactoryShuffleRule(Rule):
    """A loader factory whose ``shuffle=not train`` turns shuffling off for training calls."""

    ids: ClassVar[tuple[str, ...]] = ("data.train-not-shuffled",)

    def __init__(self) -> None:
        self._factories: dict[str, list[_Factory]] = {}
        self._calls: list[tuple[str, str, str, int]] = []  # (function, flag, file, line)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "shuffle=" in text and "DataLoader" in text and "train" in text:
            for fac in _factories(f):
                self._factories.setdefault(fac.name, []).append(fac)
        for flag in _TRAIN_FLAGS:
            pos = text.find(f"{flag}=True")
            while pos != -1:
                start = text.rfind("\n", 0, pos) + 1
                m = _CALL_WITH_TRUE.search(text, start, text.find("\n", pos) % (len(text) + 1))
                if m is not None and m.group(2) == flag:
                    line = text.count("\n", 0, pos) + 1
                    self._calls.append((m.group(1), flag, f.rel, line))
                pos = text.find(f"{flag}=True", pos + 1)
        return []

    def finish(self, project: Project) -> Iterable[Finding]:
        out: list[Finding] = []
        for name, flag, rel, line in self._calls:
            for fac in self._factories.get(name, []):
                if fac.param != flag:
                    continue
                out.append(
                    finding(
                        "data.train-not-shuffled",
                        f"`{name}(..., {flag}=True)` builds the training loader, but `{name}` "
                        f"passes `shuffle=not {flag}` ({fac.rel}:{fac.line}), so training "
                        "batches come in the same order every epoch (and evaluation is "
                        f"shuffled instead); use `shuffle={flag}`.",
                        how="static",
                        file=rel,
                        line=line,
                        detail={"factory": name, "factory_line": fac.line},
                    )
                )
                break
        return out


__all__ = ["FactoryShuffleRule"]
