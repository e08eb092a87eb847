"""What the single walk of a file keeps while it goes: the scopes with their assignments and calls,
the stack of names that give context, loop nesting. Every topic's collector reads it."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from dlpilot.tools.inspect._base import SourceFile
from dlpilot.tools.inspect.code._names import Role, base_name, const_str, last_name, role
from dlpilot.tools.inspect.code.setup.facts._file import FileFacts
from dlpilot.tools.inspect.code.setup.facts._gates import Needs


@dataclass(slots=True)
class Assign:
    line: int
    names: list[str]
    targets: list[ast.expr]
    value: ast.expr
    loads: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Scope:
    name: str
    cls: str  # enclosing class name ("" outside classes)
    assigns: list[Assign] = field(default_factory=list)
    calls: list[ast.Call] = field(default_factory=list)
    stats: list[tuple[int, str]] = field(default_factory=list)  # (line, data name)


class WalkContext:
    """State shared by the topic collectors: the file, its facts, what to gather, the scopes."""

    def __init__(self, f: SourceFile, facts: FileFacts, need: Needs) -> None:
        self.f = f
        self.facts = facts
        self.need = need
        self.module = Scope("", "")
        self.scopes: list[Scope] = [self.module]
        self.ctx: list[str] = []
        self.assigning: list[Assign] = []
        self.loop_depth = 0
        self.looped: set[int] = set()  # ids of the calls made inside a loop of their scope
        # names bound by ``with tempfile.TemporaryDirectory() as tmp`` and the like
        self.temp_names: set[str] = set()
        self.called_in_loop: set[str] = set()  # names of functions called inside a loop
        # assignments of a splitter's result (train_test_split, random_split, ...), by scope
        self.split_calls: list[tuple[Assign, ast.Call, Scope]] = []

    def _role(self) -> Role | None:
        for name in reversed(self.ctx):
            r = role(name)
            if r is not None:
                return r
        return None

    def _ctx_name(self) -> str:
        for name in reversed(self.ctx):
            if role(name) is not None:
                return name
        return ""

    def _lookup(self, node: ast.expr, scope: Scope, line: int) -> ast.expr | None:
        """The value last assigned to a name (or ``self.attr``) before ``line``."""
        if isinstance(node, ast.Name):
            for sc in (scope, self.module):
                found: ast.expr | None = None
                for rec in sc.assigns:
                    if rec.line <= line and node.id in rec.names:
                        found = element(rec, node.id)
                if found is not None:
                    return found
            return None
        if isinstance(node, ast.Attribute) and base_name(node) == "self" and scope.cls:
            for sc in self.scopes:
                if sc.cls != scope.cls:
                    continue
                for rec in sc.assigns:
                    for tg in rec.targets:
                        if isinstance(tg, ast.Attribute) and tg.attr == node.attr:
                            return rec.value
            return None
        return None


def element(rec: Assign, name: str) -> ast.expr | None:
    """The part of an assignment's value bound to ``name`` (handles ``a, b = x, y``)."""
    for tname, value in pairs(rec):
        if tname == name:
            return value
    return rec.value if name in rec.names else None


def pairs(rec: Assign) -> list[tuple[str, ast.expr]]:
    out: list[tuple[str, ast.expr]] = []
    for tg in rec.targets:
        if isinstance(tg, ast.Name | ast.Attribute):
            out.append((tg.id if isinstance(tg, ast.Name) else tg.attr, rec.value))
        elif (
            isinstance(tg, ast.Tuple)
            and isinstance(rec.value, ast.Tuple)
            and len(tg.elts) == len(rec.value.elts)
        ):
            for t_elt, v_elt in zip(tg.elts, rec.value.elts, strict=True):
                if isinstance(t_elt, ast.Name | ast.Attribute):
                    out.append((t_elt.id if isinstance(t_elt, ast.Name) else t_elt.attr, v_elt))
    return out


def expr_role(node: ast.expr) -> Role | None:
    if isinstance(node, ast.Name):
        return role(node.id)
    if isinstance(node, ast.Attribute):
        return role(node.attr)
    if isinstance(node, ast.Subscript):
        return role(const_str(node.slice)) or expr_role(node.value)
    if isinstance(node, ast.Call):
        r = role(last_name(node.func))
        if r is None:
            for a in node.args:
                if isinstance(a, ast.Name | ast.Attribute | ast.Subscript):
                    r = expr_role(a)
                    if r is not None:
                        break
        return r
    return None


__all__ = ["WalkContext"]
