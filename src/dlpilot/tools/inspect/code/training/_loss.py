"""Rules on what is fed to a loss: probabilities into losses that expect raw logits.

The input of each ``cross_entropy`` / ``CrossEntropyLoss`` and ``BCEWithLogitsLoss`` call is traced
back a few assignments within its function (through reshapes and device moves) to a softmax or
sigmoid call, an ``nn.Softmax`` / ``nn.Sigmoid`` module, or a model whose every ``forward`` return
is one (a class, or an ``nn.Sequential`` whose last layer is one). Models built from classes of
other files are judged in ``finish``, from the small facts each file leaves.

``log_softmax`` into cross-entropy is reported too, as the catalogue defines the check (and as the
runtime probe sees it): the loss is numerically the same, because log-softmax is idempotent, but
the model's output is normalized twice and the pairing is the usual sign of a mixed-up loss.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect.code._names import call_attr, dotted, last, root, unwrap_device
from dlpilot.tools.inspect.code.training._flow import enclosing_class, latest_assign
from dlpilot.tools.inspect.code.training._index import (
    ClassInfo,
    Event,
    FileIndex,
    Scope,
    index_of,
    loss_text,
)

_LOSS_CLASSES = {
    "CrossEntropyLoss": "ce",
    "BCEWithLogitsLoss": "bcel",
    "NLLLoss": "nll",
    "BCELoss": "bce",
}
_LOSS_FUNCTIONS = {
    "cross_entropy": "ce",
    "binary_cross_entropy_with_logits": "bcel",
    "nll_loss": "nll",
    "binary_cross_entropy": "bce",
}
_ACT_CLASSES = {"Softmax": "softmax", "Sigmoid": "sigmoid", "LogSoftmax": "log_softmax"}
_ACT_FUNCTIONS = {"softmax": "softmax", "sigmoid": "sigmoid", "expit": "sigmoid"}
_ACT_FUNCTIONS_ALL = {**_ACT_FUNCTIONS, "log_softmax": "log_softmax"}
_SHAPE_KEEPING = frozenset(
    {
        "view",
        "reshape",
        "squeeze",
        "unsqueeze",
        "flatten",
        "contiguous",
        "permute",
        "transpose",
        "to",
        "cuda",
        "cpu",
        "float",
        "double",
        "half",
        "type",
        "clone",
    }
)
_WANTED = {"ce": frozenset({"softmax", "log_softmax"}), "bcel": frozenset({"sigmoid"})}
_MAX_HOPS = 5  # assignments followed back from a loss input; real chains are one to three long


def _kind_from_calls(values: list[ast.AST | None], table: dict[str, str]) -> str:
    kinds = set()
    for value in values:
        made = unwrap_device(value) if isinstance(value, ast.expr) else value
        kinds.add(table.get(call_attr(made), "") if isinstance(made, ast.Call) else "")
    return kinds.pop() if len(kinds) == 1 else ""


class _Tracer:
    """Per-file lookups: what names hold (losses, activation modules, models)."""

    def __init__(self, ix: FileIndex) -> None:
        self.ix = ix
        self.values: dict[str, list[ast.AST | None]] = {}
        for scope in ix.scopes:
            for ev in scope.events:
                if ev.kind == "assign":
                    self.values.setdefault(ev.name, []).append(ev.node)
                    if "." in ev.name:
                        self.values.setdefault("*." + last(ev.name), []).append(ev.node)
        self.class_kinds: dict[str, str] = {}
        self.pending_classes: set[str] = set()
        self._named_memo: dict[tuple[str, int], str] = {}
        self._model_memo: dict[str, str] = {}

    def _named(self, name: str, table: dict[str, str]) -> str:
        key = (name, id(table))
        if key not in self._named_memo:
            self._named_memo[key] = self._named_uncached(name, table)
        return self._named_memo[key]

    def _named_uncached(self, name: str, table: dict[str, str]) -> str:
        values = self.values.get(name)
        if values is None and "." in name:
            values = self.values.get("*." + last(name))
        if values is None:
            values = self.values.get(last(name))
        return _kind_from_calls(values, table) if values else ""

    def loss_kind(self, call: ast.Call) -> str:
        func = call.func
        if isinstance(func, ast.Call):
            return _LOSS_CLASSES.get(call_attr(func), "")
        name = dotted(func)
        if not name:
            return ""
        attr = last(name)
        if attr in _LOSS_FUNCTIONS and root(name) != "self":
            return _LOSS_FUNCTIONS[attr]
        return self._named(name, _LOSS_CLASSES)

    def model_kind(self, name: str) -> str:
        """The activation a model's output always ends with: ``softmax``, ``sigmoid``,
        ``class:Name`` for a class defined elsewhere, or ``""``."""
        if name not in self._model_memo:
            self._model_memo[name] = ""  # a placeholder breaks recursion
            self._model_memo[name] = self._model_kind(name)
        return self._model_memo[name]

    def _model_kind(self, name: str) -> str:
        values = self.values.get(name) or self.values.get(last(name))
        if not values:
            return ""
        kinds = {self._made_kind(v) for v in values}
        return kinds.pop() if len(kinds) == 1 else ""

    def _made_kind(self, value: ast.AST | None) -> str:
        made = unwrap_device(value) if isinstance(value, ast.expr) else None
        if not isinstance(made, ast.Call):
            return ""
        attr = call_attr(made)
        if attr == "Sequential":
            if made.args and isinstance(made.args[-1], ast.Call):
                return _ACT_CLASSES.get(call_attr(made.args[-1]), "")
            return ""
        if not attr[:1].isupper() or isinstance(made.func, ast.Call):
            return ""
        if attr in self.ix.classes:
            return self.class_kind(attr)
        return f"class:{attr}"

    def class_kind(self, name: str) -> str:
        if name in self.class_kinds:
            return self.class_kinds[name]
        self.class_kinds[name] = ""  # a placeholder breaks recursion
        infos = self.ix.classes.get(name, [])
        kind = _forward_kind(self, infos[0]) if len(infos) == 1 else ""
        self.class_kinds[name] = kind
        return kind

    def act(self, scope: Scope, expr: ast.AST | None, at: Event, hops: int = 0) -> str:
        if hops > _MAX_HOPS or expr is None:
            return ""
        if isinstance(expr, ast.Call):
            return self._call_act(scope, expr, at, hops)
        name = dotted(expr)
        if not name:
            return ""
        ev = latest_assign(self.ix, scope, name, at)
        if ev is None:
            return ""
        return self.act(scope, ev.node, ev, hops + 1)

    def _call_act(self, scope: Scope, call: ast.Call, at: Event, hops: int) -> str:
        func = call.func
        if isinstance(func, ast.Call):
            return _ACT_CLASSES.get(call_attr(func), "")
        name = dotted(func)
        attr = call_attr(call)
        if name and root(name) == "self":
            kind = self._self_act(scope, name)
            if kind:
                return kind
        elif attr in _ACT_FUNCTIONS_ALL and (name or isinstance(func, ast.Attribute)):
            return _ACT_FUNCTIONS_ALL[attr]
        if name and self._named(name, _ACT_CLASSES):
            return self._named(name, _ACT_CLASSES)
        if isinstance(func, ast.Attribute) and attr in _SHAPE_KEEPING:
            return self.act(scope, func.value, at, hops + 1)
        if name:
            kind = self.model_kind(name)
            if kind.startswith("class:"):
                self.pending_classes.add(kind[6:])
            return kind
        return ""

    def _self_act(self, scope: Scope, name: str) -> str:
        cls = enclosing_class(scope)
        if cls is None:
            return ""
        values: list[ast.AST | None] = []
        for method in cls.methods.values():
            values += [e.node for e in method.events if e.kind == "assign" and e.name == name]
        if not values:
            return ""
        kind = _kind_from_calls(values, _ACT_CLASSES)
        return kind or _kind_from_seq(values)


def _kind_from_seq(values: list[ast.AST | None]) -> str:
    kinds = set()
    for value in values:
        made = unwrap_device(value) if isinstance(value, ast.expr) else None
        if isinstance(made, ast.Call) and call_attr(made) == "Sequential" and made.args:
            tail = made.args[-1]
            kinds.add(_ACT_CLASSES.get(call_attr(tail), "") if isinstance(tail, ast.Call) else "")
        else:
            kinds.add("")
    return kinds.pop() if len(kinds) == 1 else ""


def _forward_kind(tracer: _Tracer, cls: ClassInfo) -> str:
    forward = cls.methods.get("forward")
    if forward is None:
        return ""
    kinds = {
        tracer.act(forward, e.node, e) for e in forward.events if e.kind == "return" and e.node
    }
    kind = kinds.pop() if len(kinds) == 1 else ""
    return kind if kind in {"softmax", "sigmoid", "log_softmax"} else ""


class LossInputRule(Rule):
    """Probabilities fed to a loss that applies its own softmax / sigmoid."""

    ids: ClassVar[tuple[str, ...]] = ("loss.softmax-before-ce", "loss.sigmoid-before-bce-logits")

    def __init__(self) -> None:
        self._class_kinds: dict[str, set[str]] = {}
        self._pending: list[tuple[str, int, str, str, str]] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        has_act = "oftmax" in text or "igmoid" in text or "expit" in text
        has_loss = "ntropy" in text or "ogits" in text
        if not loss_text(text) and not (has_loss and "backward(" in text):
            return []
        ix = index_of(f)
        if ix is None:
            return []
        tracer = _Tracer(ix)
        if has_act:
            for name in ix.classes:
                kind = tracer.class_kind(name)
                self._class_kinds.setdefault(name, set()).add(kind)
        if not has_loss:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            for ev in scope.events:
                if ev.kind != "call" or ev.role or not isinstance(ev.node, ast.Call):
                    continue
                kind = tracer.loss_kind(ev.node)
                if kind not in _WANTED:
                    continue
                arg = _input_arg(ev.node)
                act = tracer.act(scope, arg, ev)
                shown = ast.unparse(arg) if arg is not None else ""
                if act in _WANTED[kind]:
                    out.append(_finding(kind, f.rel, ev.line, shown, act))
                elif act.startswith("class:"):
                    self._pending.append((f.rel, ev.line, act[6:], kind, shown))
        return out

    def finish(self, project: Project) -> Iterable[Finding]:
        out: list[Finding] = []
        for rel, line, cls, kind, shown in self._pending:
            kinds = self._class_kinds.get(cls, set())
            if len(kinds) == 1 and kinds <= _WANTED[kind]:
                out.append(_finding(kind, rel, line, shown, next(iter(kinds))))
        return out


def _input_arg(call: ast.Call) -> ast.expr | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    for kw in call.keywords:
        if kw.arg == "input":
            return kw.value
    return None


def _finding(kind: str, rel: str, line: int, shown: str, act: str) -> Finding:
    if act == "log_softmax":
        return finding(
            "loss.softmax-before-ce",
            f"`{shown}` is already log-probabilities (log_softmax), but cross-entropy applies "
            "log-softmax itself. The loss comes out the same (log-softmax is idempotent), so "
            "this is a mixed-up pairing rather than wrong numbers: use NLLLoss on "
            "log-probabilities, or return raw logits to CrossEntropyLoss.",
            how="static",
            file=rel,
            line=line,
            detail={"input": shown, "activation": act},
        )
    if kind == "ce":
        return finding(
            "loss.softmax-before-ce",
            f"`{shown}` is already a softmax output, but cross-entropy applies log-softmax "
            "itself, so it trains on squashed probabilities with tiny gradients; pass the raw "
            "logits (drop the softmax, keep it only for predictions).",
            how="static",
            file=rel,
            line=line,
            detail={"input": shown, "activation": act},
        )
    return finding(
        "loss.sigmoid-before-bce-logits",
        f"`{shown}` has already gone through a sigmoid, but BCEWithLogitsLoss applies its own "
        "sigmoid; pass the raw logits (or use BCELoss on probabilities).",
        how="static",
        file=rel,
        line=line,
        detail={"input": shown, "activation": act},
    )


__all__ = ["LossInputRule"]
