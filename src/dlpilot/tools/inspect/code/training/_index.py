"""One walk over a file's tree that records, per function, the facts the training rules read.

Every rule of this package asks :func:`index_of` for the file's :class:`FileIndex`; it is built once
per file (the first rule to ask builds it, the others reuse it) and only when the text mentions
something a training rule looks at, so most library files are never walked.

The index is a list of *scopes* (the module body and every function), each an ordered list of
:class:`Event` (calls, assignments, returns, autocast regions) tagged with the loops, branches and
grad mode they sit in. Nested functions are scopes of their own: a closure's ``zero_grad`` does not
count as the enclosing loop's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlpilot.tools.inspect._base import SourceFile
from dlpilot.tools.inspect.code._names import (
    call_attr,
    const_bool,
    dotted,
    is_backward_wrapper,
    is_scheduler_name,
    unwrap_device,
)

_EVAL_DEF = re.compile(
    r"def _?(?:val|valid|validate|validation|eval|evaluate|evaluation|predict|infer|inference|"
    r"test|run_eval\w*|do_eval\w*)\s*\("
)
_EVAL_WORD = re.compile(r"val_|_val|valid|test_|_test|testloader|eval")
_BARE_MODE = re.compile(r"\.(?:train|eval)[ \t]*(?:#.*)?$", re.MULTILINE)

Branch = tuple[tuple[int, int], ...]
_LEAVES = (ast.Name, ast.Constant)


@dataclass(slots=True, eq=False)
class Event:
    """Something that happens in a scope, in source order.

    ``kind`` is ``call``, ``assign`` (``name`` = target, ``node`` = value or None when unknown),
    ``augassign`` (``name`` = target, ``node`` = the AugAssign), ``return``, ``autocast``
    (``node`` = the autocast call) or ``bare_mode`` (``model.train`` / ``model.eval`` never called).
    For calls, ``role`` says what the call does for training: ``backward`` (``recv`` = the loss,
    ``extra`` = ``tensor`` / ``scaled`` / ``wrapper`` / ``context``: distributed autograd),
    ``step`` (``recv`` = the optimizer), ``sched_step``, ``zero`` (``recv`` = optimizer, model
    or ``p.grad``), ``train`` / ``eval`` / ``mode?`` (``recv`` = the module), ``forward``
    (explicit ``.forward(...)``), ``append``.
    """

    kind: str
    order: int
    line: int
    loops: tuple[int, ...]
    branch: Branch
    no_grad: bool
    grad_managed: bool
    role: str = ""
    name: str = ""
    recv: str = ""
    extra: str = ""
    node: ast.AST | None = None


@dataclass(slots=True, eq=False)
class Loop:
    id: int
    line: int
    iter: ast.expr | None
    parent: int | None
    no_grad: bool


@dataclass(eq=False)
class ClassInfo:
    name: str
    line: int
    bases: list[str]
    methods: dict[str, Scope] = field(default_factory=dict)

    def looks_like_module(self) -> bool:
        return "forward" in self.methods or any("Module" in b or "nn." in b for b in self.bases)

    def is_lightning(self) -> bool:
        return any("Lightning" in b or b.endswith("pl.LightningModule") for b in self.bases)


@dataclass(eq=False)
class Scope:
    """The module body or one function body."""

    name: str
    line: int
    cls: ClassInfo | None
    params: list[str]
    no_grad: bool = False
    grad_managed: bool = False
    events: list[Event] = field(default_factory=list)
    loops: dict[int, Loop] = field(default_factory=dict)
    parent: Scope | None = None

    def in_loop(self, ev: Event, loop_id: int) -> bool:
        return loop_id in ev.loops


@dataclass(eq=False)
class FileIndex:
    rel: str
    text: str
    module: Scope
    scopes: list[Scope]
    functions: dict[str, list[Scope]]
    classes: dict[str, list[ClassInfo]]
    methods: dict[str, list[Scope]]
    memo: dict[tuple[str, int], object] = field(default_factory=dict)


def mode_text(t: str) -> bool:
    """Could the train / eval mode rules find anything in this text?"""
    return (
        ".eval()" in t
        or _EVAL_DEF.search(t) is not None
        or ("backward(" in t and _EVAL_WORD.search(t) is not None)
    )


def loop_text(t: str) -> bool:
    """Could the optimization-loop rules find anything in this text?"""
    return "backward(" in t and ("step(" in t or "zero_grad" in t or "optim" in t)


def bare_mode_text(t: str) -> bool:
    return _BARE_MODE.search(t) is not None


def loss_text(t: str) -> bool:
    return ("oftmax" in t or "igmoid" in t) and (
        "ntropy" in t or "ogits" in t or "def forward" in t
    )


def worth_indexing(text: str) -> bool:
    """Cheap text test: could any training rule find anything in this file?"""
    t = text
    return (
        loop_text(t)
        or ("autocast" in t and "backward(" in t)
        or ".forward(" in t
        or mode_text(t)
        or loss_text(t)
        or bare_mode_text(t)
    )


def index_of(f: SourceFile) -> FileIndex | None:
    """The file's index, built on first request (kept on the file); None when the file cannot
    matter."""
    return f.memo(_build)


def _build(f: SourceFile) -> FileIndex | None:
    return _Builder(f).build() if worth_indexing(f.text) else None


def _grad_context(expr: ast.expr) -> str:
    """``off`` for no_grad-like contexts, ``managed`` when the author toggles grad mode."""
    if not isinstance(expr, ast.Call):
        return "off" if dotted(expr).endswith(("no_grad", "inference_mode")) else ""
    attr = call_attr(expr)
    if attr in {"no_grad", "inference_mode"}:
        return "off"
    if attr == "set_grad_enabled":
        flag = const_bool(expr.args[0]) if expr.args else None
        return "off" if flag is False else "managed"
    if attr == "enable_grad":
        return "managed"
    return ""


def _loss_name(expr: ast.expr) -> str:
    """The variable a back-propagated expression is built from: ``(loss / k)`` -> ``loss``."""
    name = dotted(expr)
    if name:
        return name
    if isinstance(expr, ast.BinOp):
        return _loss_name(expr.left) or _loss_name(expr.right)
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in {"mean", "sum"}
    ):
        return _loss_name(expr.func.value)
    return ""


_DIST_AUTOGRAD = re.compile(r"(^|\.)(dist_?autograd|distributed\.autograd)$")
"""``torch.distributed.autograd`` as it is imported (``import ... as dist_autograd``)."""


def _first_item(expr: ast.expr) -> ast.expr:
    if isinstance(expr, ast.List | ast.Tuple) and expr.elts:
        return expr.elts[0]
    return expr


def _call_role(call: ast.Call) -> tuple[str, str, str]:
    """(role, recv, extra) of a call; see :class:`Event`."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return "", "", ""
    attr = func.attr
    value = func.value
    if attr == "backward" or attr == "manual_backward":
        owner = dotted(value)
        if attr == "backward" and _DIST_AUTOGRAD.search(owner) and len(call.args) >= 2:
            # dist_autograd.backward(context_id, [loss]): gradients go to the context's own
            # store, made fresh by each `with dist_autograd.context()`, so nothing accumulates
            return "backward", _loss_name(_first_item(call.args[1])), "context"
        if attr == "manual_backward" or (call.args and is_backward_wrapper(owner)):
            return "backward", _loss_name(call.args[0]) if call.args else "", "wrapper"
        if isinstance(value, ast.Call) and call_attr(value) == "scale" and value.args:
            return "backward", _loss_name(value.args[0]), "scaled"
        return "backward", _loss_name(value), "tensor"
    owner = dotted(value)
    if attr == "step":
        if "scaler" in owner.lower() and call.args:
            return "step", dotted(call.args[0]), "scaler"
        if is_scheduler_name(owner):
            return "sched_step", owner, ""
        return "step", owner, "args" if (call.args or call.keywords) else ""
    if attr == "zero_grad":
        return "zero", owner, ""
    if attr == "zero_" and (owner.endswith(".grad") or owner.endswith(".grad.data")):
        return "zero", owner, ""
    if attr in {"train", "eval"} and not owner:
        owner = dotted(unwrap_device(value))  # model.to(device).train()
    if attr == "train" and owner:
        if not call.args and not call.keywords:
            return "train", owner, ""
        arg = call.args[0] if call.args else call.keywords[0].value
        flag = const_bool(arg)
        if flag is None:
            return "mode?", owner, ""
        return ("train" if flag else "eval"), owner, ""
    if attr == "eval" and owner and not call.args and not call.keywords:
        return "eval", owner, ""
    if attr == "forward":
        if isinstance(value, ast.Call) and call_attr(value) == "super":
            return "forward", "super()", ""
        return "forward", owner, ""
    if attr == "append" and owner and len(call.args) == 1:
        return "append", owner, ""
    return "", owner, ""


_DISPATCH: dict[type[ast.AST], Callable[[_Builder, Any], None]] = {}
"""Node class -> the builder's method for it (``visit_<Class>`` or ``generic_visit``)."""


class _Builder(ast.NodeVisitor):
    def __init__(self, f: SourceFile) -> None:
        self.f = f
        self.module = Scope(name="<module>", line=1, cls=None, params=[])
        self.scopes: list[Scope] = [self.module]
        self.functions: dict[str, list[Scope]] = {}
        self.classes: dict[str, list[ClassInfo]] = {}
        self.methods: dict[str, list[Scope]] = {}
        self.scope = self.module
        self.cls: ClassInfo | None = None
        self.loops: list[int] = []
        self.branch: list[tuple[int, int]] = []
        self.no_grad = False
        self.grad_managed = False
        self.order = 0
        self.next_id = 0

    # -- traversal: NodeVisitor's, with the method looked up once per node class ----------------
    def visit(self, node: ast.AST) -> None:
        cls = node.__class__
        method = _DISPATCH.get(cls)
        if method is None:
            method = _DISPATCH[cls] = getattr(
                _Builder, f"visit_{cls.__name__}", _Builder.generic_visit
            )
        method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST) and item._fields:
                        self.visit(item)
            elif isinstance(value, ast.AST) and value._fields:
                self.visit(value)  # not the childless Load / Store / operator nodes

    def build(self) -> FileIndex:
        for stmt in self.f.tree.body:
            self.visit(stmt)
        return FileIndex(
            rel=self.f.rel,
            text=self.f.text,
            module=self.module,
            scopes=self.scopes,
            functions=self.functions,
            classes=self.classes,
            methods=self.methods,
        )

    # -- recording ------------------------------------------------------------------------------
    def _event(
        self,
        kind: str,
        line: int,
        *,
        role: str = "",
        name: str = "",
        recv: str = "",
        extra: str = "",
        node: ast.AST | None = None,
    ) -> Event:
        self.order += 1
        ev = Event(
            kind,
            self.order,
            line,
            tuple(self.loops),
            tuple(self.branch),
            self.no_grad,
            self.grad_managed,
            role,
            name,
            recv,
            extra,
            node,
        )
        self.scope.events.append(ev)
        return ev

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _assign_target(self, target: ast.expr, value: ast.expr | None, line: int) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._assign_target(elt, None, line)
            return
        if isinstance(target, ast.Starred):
            self._assign_target(target.value, None, line)
            return
        name = dotted(target)
        if name:
            self._event("assign", line, name=name, node=value)
        elif isinstance(target, ast.Subscript):
            self.visit(target.slice)

    # -- scopes ---------------------------------------------------------------------------------
    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for dec in node.decorator_list:
            self.visit(dec)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        args = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
        if self.cls is not None and args and args[0] in {"self", "cls"}:
            args = args[1:]
        params = [*args, *(a.arg for a in node.args.kwonlyargs)]
        scope = Scope(name=node.name, line=node.lineno, cls=self.cls, params=params)
        scope.parent = self.scope
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            ctx = _grad_context(dec if isinstance(dec, ast.Call) else target)
            if ctx == "off":
                scope.no_grad = True
            elif ctx == "managed":
                scope.grad_managed = True
        self.scopes.append(scope)
        if self.cls is not None:
            self.cls.methods.setdefault(node.name, scope)
            self.methods.setdefault(node.name, []).append(scope)
        else:
            self.functions.setdefault(node.name, []).append(scope)
        saved = (self.scope, self.cls, self.loops, self.branch, self.no_grad, self.grad_managed)
        self.scope, self.cls, self.loops, self.branch = scope, None, [], []
        self.no_grad, self.grad_managed = scope.no_grad, scope.grad_managed
        for dec in node.decorator_list:
            if isinstance(dec, ast.Call) and call_attr(dec) == "autocast":
                self._event("autocast", dec.lineno, node=dec)
        for stmt in node.body:
            self.visit(stmt)
        self.scope, self.cls, self.loops, self.branch, self.no_grad, self.grad_managed = saved

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for dec in node.decorator_list:
            self.visit(dec)
        info = ClassInfo(name=node.name, line=node.lineno, bases=[dotted(b) for b in node.bases])
        self.classes.setdefault(node.name, []).append(info)
        saved = self.cls
        self.cls = info
        for stmt in node.body:
            self.visit(stmt)
        self.cls = saved

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return  # runs later, elsewhere: its calls are not this scope's

    # -- statements -----------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._assign_target(target, node.value, node.lineno)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._assign_target(node.target, node.value, node.lineno)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._assign_target(node.target, node.value, node.lineno)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        name = dotted(node.target)
        if name:
            self._event("augassign", node.lineno, name=name, node=node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._event("return", node.lineno, node=node.value)

    def visit_Expr(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr in {"train", "eval"}:
            self._event("bare_mode", node.lineno, name=value.attr, recv=dotted(value.value))
        self.visit(value)
        if isinstance(value, ast.Call) and _grad_context(value) == "off":
            # torch.set_grad_enabled(False) as a statement: grad is off from here on.
            self.no_grad = True

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        loop_id = self._new_id()
        parent = self.loops[-1] if self.loops else None
        it = node.iter if isinstance(node, (ast.For, ast.AsyncFor)) else None
        if it is not None:
            self.visit(it)
        self.scope.loops[loop_id] = Loop(loop_id, node.lineno, it, parent, self.no_grad)
        self.loops.append(loop_id)
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self._assign_target(node.target, None, node.lineno)
        else:
            self.visit(node.test)
        for stmt in node.body:
            self.visit(stmt)
        self.loops.pop()
        for stmt in node.orelse:
            self.visit(stmt)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._loop(node)

    def visit_While(self, node: ast.While) -> None:
        self._loop(node)

    def _arm(self, key: int, arm: int, body: list[ast.stmt]) -> None:
        self.branch.append((key, arm))
        for stmt in body:
            self.visit(stmt)
        self.branch.pop()

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        key = self._new_id()
        self._arm(key, 0, node.body)
        if node.orelse:
            self._arm(key, 1, node.orelse)

    def visit_Try(self, node: ast.Try) -> None:
        key = self._new_id()
        self._arm(key, 0, [*node.body, *node.orelse])
        for i, handler in enumerate(node.handlers, start=1):
            self._arm(key, i, handler.body)
        for stmt in node.finalbody:
            self.visit(stmt)

    def visit_TryStar(self, node: ast.TryStar) -> None:
        key = self._new_id()
        self._arm(key, 0, [*node.body, *node.orelse])
        for i, handler in enumerate(node.handlers, start=1):
            self._arm(key, i, handler.body)
        for stmt in node.finalbody:
            self.visit(stmt)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        saved = (self.no_grad, self.grad_managed)
        for item in node.items:
            expr = item.context_expr
            self.visit(expr)
            ctx = _grad_context(expr)
            if ctx == "off":
                self.no_grad = True
            elif ctx == "managed":
                self.grad_managed = True
            if isinstance(expr, ast.Call) and call_attr(expr) == "autocast":
                self._event("autocast", expr.lineno, node=expr)
            if item.optional_vars is not None:
                self._assign_target(item.optional_vars, expr, node.lineno)
        for stmt in node.body:
            self.visit(stmt)
        self.no_grad, self.grad_managed = saved

    def visit_With(self, node: ast.With) -> None:
        self._with(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._with(node)

    # -- expressions ----------------------------------------------------------------------------
    # Names, constants and plain attribute chains hold no calls: skip them without dispatch.
    def visit_Name(self, node: ast.Name) -> None:
        return

    def visit_Constant(self, node: ast.Constant) -> None:
        return

    def visit_Attribute(self, node: ast.Attribute) -> None:
        value = node.value
        while isinstance(value, ast.Attribute):
            value = value.value
        if not isinstance(value, ast.Name):
            self.visit(value)

    def visit_Call(self, node: ast.Call) -> None:
        self.visit_Attribute(node.func) if isinstance(node.func, ast.Attribute) else self.visit(
            node.func
        )
        for arg in node.args:
            if not isinstance(arg, _LEAVES):
                self.visit(arg)
        for kw in node.keywords:
            if not isinstance(kw.value, _LEAVES):
                self.visit(kw.value)
        role, recv, extra = _call_role(node)
        self._event(
            "call",
            node.lineno,
            role=role,
            name=dotted(node.func),
            recv=recv,
            extra=extra,
            node=node,
        )


__all__ = [
    "ClassInfo",
    "Event",
    "FileIndex",
    "Loop",
    "Scope",
    "bare_mode_text",
    "index_of",
    "loop_text",
    "loss_text",
    "mode_text",
    "worth_indexing",
]
