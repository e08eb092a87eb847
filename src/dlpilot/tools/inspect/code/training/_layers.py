"""Rules on what a model's layers and its loss do to its outputs: functional dropout that ignores
eval mode, a softmax taken over the batch instead of the classes, and a token-level loss that
counts the padding.

These read the tree directly (functional calls, layer constructions, return values) and skip
every file whose text cannot hold the pattern.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect.code._names import (
    call_attr,
    const_bool,
    dotted,
    is_model_name,
    last,
)
from dlpilot.tools.inspect.code.training._index import index_of
from dlpilot.tools.inspect.code.training._resolve import class_of

_DROPOUTS = frozenset(
    {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
)
_MEANT_STOCHASTIC = re.compile(r"mc|monte|sample|bayes|uncertain|stochastic", re.IGNORECASE)
_FUNCTIONAL_CALL = re.compile(r"(?:\bF|functional)\.(?:feature_)?(?:alpha_)?dropout\w*\(")
_FUNCTIONAL_IMPORT = re.compile(r"from\s+torch\.nn\.functional\s+import[^\n]*\bdropout")


def _module_classes(tree: ast.Module) -> list[ast.ClassDef]:
    out: list[ast.ClassDef] = []
    todo = [n for n in tree.body if isinstance(n, ast.ClassDef | ast.If | ast.Try)]
    while todo:  # module-level classes, also under `if` / `try` (optional imports)
        node = todo.pop()
        if not isinstance(node, ast.ClassDef):
            for part in ast.iter_child_nodes(node):
                if isinstance(part, ast.ClassDef | ast.If | ast.Try):
                    todo.append(part)
            continue
        bases = [dotted(b) for b in node.bases]
        has_forward = any(isinstance(s, ast.FunctionDef) and s.name == "forward" for s in node.body)
        if has_forward or any("Module" in b or b.startswith("nn.") for b in bases):
            out.append(node)
    return out


def _is_functional(call: ast.Call, imported: bool) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = dotted(func.value)
        return func.attr in _DROPOUTS and (owner == "F" or owner.endswith("functional"))
    return isinstance(func, ast.Name) and func.id in _DROPOUTS and imported


class DropoutAlwaysOnRule(Rule):
    """``F.dropout(x, p)`` in a module without ``training=self.training`` stays on in eval."""

    ids: ClassVar[tuple[str, ...]] = ("mode.dropout-always-on",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "dropout" not in text:
            return []
        imported = _FUNCTIONAL_IMPORT.search(text) is not None
        if not imported and _FUNCTIONAL_CALL.search(text) is None:
            return []
        out: list[Finding] = []
        for cls in _module_classes(f.tree):
            if _MEANT_STOCHASTIC.search(cls.name):
                continue
            for method in cls.body:
                if not isinstance(method, ast.FunctionDef) or _MEANT_STOCHASTIC.search(method.name):
                    continue
                for node in ast.walk(method):
                    if isinstance(node, ast.Call) and _is_functional(node, imported):
                        why = _always_on(node)
                        if why:
                            out.append(_dropout_finding(f.rel, cls.name, node, why))
        return out


def _always_on(call: ast.Call) -> str:
    """How the call leaves dropout on ("" when it follows the module's mode)."""
    arg: ast.expr | None = call.args[2] if len(call.args) > 2 else None
    for kw in call.keywords:
        if kw.arg == "training":
            arg = kw.value
        elif kw.arg is None:
            return ""  # **kwargs may carry training
    if arg is None:
        return "without `training=`, which defaults to True"
    if const_bool(arg) is True:
        return "with `training=True`"
    return ""


def _dropout_finding(rel: str, cls: str, call: ast.Call, why: str) -> Finding:
    name = dotted(call.func) or call_attr(call)
    return finding(
        "mode.dropout-always-on",
        f"`{name}(...)` in `{cls}` is called {why}, so dropout stays on after `model.eval()`: "
        "validation and inference are noisy and under-score the model; pass "
        "`training=self.training` (or use an `nn.Dropout` module).",
        how="static",
        file=rel,
        line=call.lineno,
        detail={"class": cls, "call": name},
    )


_SOFTMAX = frozenset({"softmax", "log_softmax"})
_SOFTMAX_LAYERS = frozenset({"Softmax", "LogSoftmax"})
_CLASSIFICATION_WORDS = ("NLLLoss", "CrossEntropyLoss", "nll_loss", "cross_entropy")
_DIM_ZERO_TEXT = re.compile(r"oftmax\((?:[^\n]*,)?\s*(?:dim\s*=\s*)?0\s*\)")
_NOT_OUTPUT = re.compile(r"att|energ|score|weight|alpha|gate|pool|router", re.IGNORECASE)


def _dim_zero(call: ast.Call) -> bool:
    """Whether a softmax call or layer normalizes over dimension 0."""
    attr = call_attr(call)
    func = call.func
    if attr in _SOFTMAX_LAYERS:
        pos = 0
    elif (
        isinstance(func, ast.Attribute)
        and attr in _SOFTMAX
        and (dotted(func.value) in {"F", "torch"} or dotted(func.value).endswith("functional"))
    ):
        pos = 1
    elif isinstance(func, ast.Attribute) and attr in _SOFTMAX:
        pos = 0  # x.softmax(0)
    elif isinstance(func, ast.Name) and attr in _SOFTMAX:
        pos = 1
    else:
        return False
    dim: ast.expr | None = call.args[pos] if len(call.args) > pos else None
    for kw in call.keywords:
        if kw.arg == "dim":
            dim = kw.value
    return isinstance(dim, ast.Constant) and dim.value == 0 and not isinstance(dim.value, bool)


def _returned_softmax(fn: ast.FunctionDef) -> ast.Call | None:
    """A dim-0 softmax whose result the function returns (directly or through one name)."""
    assigned: dict[str, ast.Call] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for t in node.targets:
                if isinstance(t, ast.Name) and _dim_zero(node.value):
                    assigned[t.id] = node.value
    for node in ast.walk(fn):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        if isinstance(value, ast.Tuple) and value.elts:
            value = value.elts[0]
        if isinstance(value, ast.Name) and value.id in assigned:
            return assigned[value.id]
        if isinstance(value, ast.Call) and _dim_zero(value):
            return value
        if isinstance(value, ast.Call) and call_attr(value) in _LOG_OF:
            # ``torch.log(probs + eps)``: log-probabilities of a dim-0 softmax
            for n in ast.walk(value):
                if isinstance(n, ast.Name) and n.id in assigned:
                    return assigned[n.id]
                if isinstance(n, ast.Call) and n is not value and _dim_zero(n):
                    return n
    return None


_LOG_OF = frozenset({"log", "log1p", "log2", "log10"})
"""Calls whose result keeps the softmax's normalization dimension (log-probabilities)."""


def _softmax_layer(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Call) and call_attr(node) in _SOFTMAX_LAYERS and _dim_zero(node)


def _output_layer(cls: ast.ClassDef) -> ast.Call | None:
    """An ``nn.Softmax(dim=0)`` layer that makes the model's output."""
    layers: dict[str, ast.Call] = {}
    seq_last: list[ast.Call] = []
    for node in ast.walk(cls):
        value = node.value if isinstance(node, ast.Assign) else None
        if isinstance(node, ast.Assign) and _softmax_layer(value):
            assert isinstance(value, ast.Call)
            for t in node.targets:
                layers[dotted(t)] = value
        if isinstance(node, ast.Call) and call_attr(node) == "Sequential" and node.args:
            tail = node.args[-1]
            if isinstance(tail, ast.Call) and _softmax_layer(tail):
                seq_last.append(tail)
    forward = next(
        (s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "forward"), None
    )
    if forward is None:
        return None
    for node in ast.walk(forward):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Call):
            name = dotted(node.value.func)
            if name in layers:
                return layers[name]
    return seq_last[0] if seq_last else None


class SoftmaxDimRule(Rule):
    """A model's output normalized over dimension 0 (the batch) instead of the classes, fed to a
    classification loss."""

    ids: ClassVar[tuple[str, ...]] = ("loss.softmax-wrong-dim",)

    def __init__(self) -> None:
        self._classifies = False
        self._pending: list[tuple[str, Finding]] = []  # (model class or "", finding)
        self._trained: set[str] = set()  # classes of the models training loops call
        self._untold = False  # some training loop calls a model whose class is unknown

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if (not self._classifies or "backward(" in text) and any(
            w in text for w in _CLASSIFICATION_WORDS
        ):
            self._classifies = True
            if "backward(" in text:
                self._note_trained(f)
        if "oftmax" not in text or _DIM_ZERO_TEXT.search(text) is None or "Categorical(" in text:
            return []
        for cls in _module_classes(f.tree):
            if _NOT_OUTPUT.search(cls.name):
                continue
            found = _output_layer(cls)
            forward = next(
                (s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "forward"),
                None,
            )
            if found is None and forward is not None:
                found = _returned_softmax(forward)
                if (
                    found is not None
                    and found.args
                    and _NOT_OUTPUT.search(ast.unparse(found.args[0]))
                ):
                    found = None
            if found is not None:
                what = f"the output of `{cls.name}`"
                self._pending.append((cls.name, _softmax_finding(f.rel, found, what)))
        if "loss" in text or "criterion" in text:
            for call in _softmax_fed_to_loss(f.tree):
                self._pending.append(("", _softmax_finding(f.rel, call, "the model output")))
        return []

    def _note_trained(self, f: SourceFile) -> None:
        """The classes of the models called where a loss is back-propagated, followed through
        assignments and function parameters to their callers (``fit(Net(), ...)``)."""
        ix = index_of(f)
        if ix is None:
            return
        for scope in ix.scopes:
            if not any(e.kind == "call" and e.role == "backward" for e in scope.events):
                continue
            for ev in scope.events:
                if ev.kind != "call" or ev.role or "." in ev.name or not ev.name:
                    continue
                if not (is_model_name(ev.name) or ev.name in scope.params):
                    continue
                cls = class_of(ix, scope, ev.name)
                if cls:
                    self._trained.add(cls)
                elif is_model_name(ev.name):
                    self._untold = True

    def finish(self, project: Project) -> Iterable[Finding]:
        if not self._classifies:
            return []
        # A model class is judged only if a training loop may call it: one whose model
        # resolves to it, or one whose model cannot be resolved.
        judged = self._untold or not self._trained
        return [f for cls, f in self._pending if not cls or judged or cls in self._trained]


def _softmax_fed_to_loss(tree: ast.Module) -> list[ast.Call]:
    """Dim-0 softmax calls passed straight to a loss: ``nll_loss(F.log_softmax(out, 0), y)``
    or through a name assigned just for that."""
    out: list[ast.Call] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func).lower()
        if "loss" not in name and "criterion" not in name:
            continue
        for arg in node.args[:1]:
            if isinstance(arg, ast.Call) and _dim_zero(arg):
                out.append(arg)
    return out


def _softmax_finding(rel: str, call: ast.Call, what: str) -> Finding:
    return finding(
        "loss.softmax-wrong-dim",
        f"`{ast.unparse(call)[:80]}` normalizes {what} over dimension 0, the batch, not the "
        "classes: each class's scores are turned into a distribution across the examples of "
        "the batch, so the loss trains the wrong thing and depends on the batch size; use "
        "`dim=1` (or `dim=-1`) for (N, C) outputs.",
        how="static",
        file=rel,
        line=call.lineno,
        detail={"call": ast.unparse(call)[:120]},
    )


_PAD_WORDS = (
    "padding_idx",
    "padding_value",
    "pad_token_id",
    "pad_idx",
    "pad_id",
    "PAD_IDX",
    "PAD_ID",
    "<pad>",
)
_TOKEN_LEVEL = re.compile(
    r"\.(?:view|reshape)\(\s*-1|\.flatten\(\s*(?:0|end_dim)|\.transpose\(\s*1\s*,\s*2\s*\)|"
    r"\.permute\(\s*0\s*,\s*2\s*,\s*1\s*\)"
)
_MASKED = re.compile(r"reduction\s*=\s*['\"]none['\"]|-100|ignore_index")
_LOSS_CLASSES = frozenset({"CrossEntropyLoss", "NLLLoss"})
_LOSS_FUNCS = frozenset({"cross_entropy", "nll_loss"})


class PaddingIgnoredRule(Rule):
    """A token-level cross-entropy in a project with a padding id, with no ``ignore_index`` and
    no masking: the padding positions dominate the loss."""

    ids: ClassVar[tuple[str, ...]] = ("loss.padding-not-ignored",)

    def __init__(self) -> None:
        self._pads: set[str] = set()  # folders whose code pads sequences
        self._pending: list[Finding] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if any(w in text for w in _PAD_WORDS) and "padding_value=-100" not in text:
            self._pads.add(_folder(f.rel))
        if not (
            "CrossEntropyLoss" in text
            or "NLLLoss" in text
            or "cross_entropy" in text
            or ("nll_loss" in text)
        ):
            return []
        if _TOKEN_LEVEL.search(text) is None or _MASKED.search(text) is not None:
            return []
        losses: dict[str, ast.Call] = {}
        calls: list[ast.Call] = []
        for node in ast.walk(f.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if call_attr(node.value) in _LOSS_CLASSES:
                    for t in node.targets:
                        losses[last(dotted(t))] = node.value
            elif isinstance(node, ast.Call):
                calls.append(node)
        for call in calls:
            attr = call_attr(call)
            target = losses.get(last(dotted(call.func)))
            if attr in _LOSS_FUNCS:
                built = call
            elif target is not None:
                built = target
            elif attr in _LOSS_CLASSES and isinstance(call.func, ast.Call):
                built = call.func  # nn.CrossEntropyLoss()(logits, y)
            else:
                continue
            if not call.args or not _TOKEN_LEVEL.search(ast.unparse(call.args[0])):
                continue
            self._pending.append(
                finding(
                    "loss.padding-not-ignored",
                    f"This token-level loss (`{ast.unparse(call)[:80]}`) counts the padding "
                    "positions: the project pads its sequences but the loss has no "
                    "`ignore_index`, so the model is mostly trained to predict padding and the "
                    "loss looks better than the model is; pass `ignore_index=<pad id>` (or "
                    "set padded targets to -100).",
                    how="static",
                    file=f.rel,
                    line=call.lineno,
                    detail={"loss_line": built.lineno},
                )
            )
        return []

    def finish(self, project: Project) -> Iterable[Finding]:
        return [p for p in self._pending if _folder(p.evidence[0].file or "") in self._pads]


def _folder(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


__all__ = ["DropoutAlwaysOnRule", "PaddingIgnoredRule", "SoftmaxDimRule"]
