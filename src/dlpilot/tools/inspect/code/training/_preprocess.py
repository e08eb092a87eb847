"""Evaluation fed differently from training: the training loop passes each batch through a
preprocessing function of the project (scaling, standardizing) and the evaluation function feeds
the model raw values. Reported only when the file shows both sides and no path by which the
evaluation inputs could have been preprocessed."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Rule, SourceFile
from dlpilot.tools.inspect.code._names import dotted, is_model_name, last, names_eval, role
from dlpilot.tools.inspect.code.training._flow import resolve
from dlpilot.tools.inspect.code.training._index import FileIndex, Scope, index_of
from dlpilot.tools.inspect.code.training._mode import is_eval_function
from dlpilot.tools.inspect.code.training._resolve import call_sites, param_values, value_of

_PREPROCESS = re.compile(
    r"preprocess|normali[sz]e|standardi[sz]e|scale|rescale|prepare|featur|whiten",
    re.IGNORECASE,
)
_DEPTH = 2  # helper calls followed from the evaluation function


def _held_out(call: ast.Call) -> bool:
    return names_eval(ast.unparse(call))


def _called(ix: FileIndex, scope: Scope, names: set[str], depth: int = 0) -> bool:
    """Whether ``scope`` (or a function it surely calls) calls one of ``names``."""
    for ev in scope.events:
        if ev.kind != "call":
            continue
        if ev.name in names:
            return True
        target = resolve(ix, scope, ev) if depth < _DEPTH else None
        if target is not None and target is not scope and _called(ix, target, names, depth + 1):
            return True
    return False


def _mentions_call(ix: FileIndex, scope: Scope, expr: ast.expr, names: set[str]) -> bool:
    for n in ast.walk(expr):
        if isinstance(n, ast.Call) and dotted(n.func) in names:
            return True
        if isinstance(n, ast.Name):
            value = value_of(ix, scope, n.id)
            if value is not None and any(
                isinstance(m, ast.Call) and dotted(m.func) in names for m in ast.walk(value)
            ):
                return True
    return False


class PreprocessMismatchRule(Rule):
    """Training batches preprocessed by a project function that evaluation never applies."""

    ids: ClassVar[tuple[str, ...]] = ("data.eval-preprocess-mismatch",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "backward(" not in text or "def " not in text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        candidates = {
            name
            for name, scopes in ix.functions.items()
            if _PREPROCESS.search(name) and all(s.params for s in scopes)
        }
        if not candidates:
            return []
        used = self._in_training(ix, candidates)
        if not used:
            return []
        for scope in ix.scopes:
            for ev in scope.events:
                node = ev.node
                if ev.name in used and isinstance(node, ast.Call) and _held_out(node):
                    return []  # held-out data is preprocessed somewhere
        out: list[Finding] = []
        for scope in ix.scopes:
            if not is_eval_function(scope):
                continue
            if any(e.kind == "call" and e.role == "backward" for e in scope.events):
                continue
            forward = next(
                (
                    e
                    for e in scope.events
                    if e.kind == "call" and e.loops and is_model_name(e.name) and not e.role
                ),
                None,
            )
            if forward is None or _called(ix, scope, used):
                continue
            fed = False
            for caller, ev in call_sites(ix, scope):
                assert isinstance(ev.node, ast.Call)
                args = [*ev.node.args, *(k.value for k in ev.node.keywords)]
                if any(_mentions_call(ix, caller, a, used) for a in args):
                    fed = True
            if fed:
                continue
            shown = ", ".join(sorted(used))
            out.append(
                finding(
                    "data.eval-preprocess-mismatch",
                    f"Training batches go through `{shown}()` but `{scope.name}` feeds the model "
                    f"(line {forward.line}) without it, so the model is evaluated on inputs on "
                    "another scale than it was trained on; apply the same preprocessing in "
                    "evaluation (or move it into the dataset / model).",
                    how="static",
                    file=f.rel,
                    line=forward.line,
                    detail={"preprocess": shown, "function": scope.name},
                )
            )
        return out

    def _in_training(self, ix: FileIndex, candidates: set[str]) -> set[str]:
        used: set[str] = set()
        for scope in ix.scopes:
            loops = {
                lid
                for e in scope.events
                if e.kind == "call" and e.role == "backward"
                for lid in e.loops
            }
            for ev in scope.events:
                if ev.kind == "call" and ev.name in candidates and set(ev.loops) & loops:
                    used.add(ev.name)
        return used


class EvalOnTrainDataRule(Rule):
    """A validation score computed by walking the training loader: ``val_acc =
    evaluate(model, train_loader)``. The loader an evaluation loop walks is followed through the
    function's parameter to each call site."""

    ids: ClassVar[tuple[str, ...]] = ("data.split-overlap",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "train" not in text or ("val" not in text and "test" not in text):
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            if not scope.loops or not is_eval_function(scope):
                continue
            for loop in scope.loops.values():
                it = loop.iter
                while isinstance(it, ast.Call) and it.args:
                    it = it.args[0]  # enumerate(loader), tqdm(loader)
                param = dotted(it) if it is not None else ""
                if param not in scope.params:
                    continue
                for caller, ev, arg in param_values(ix, scope, param):
                    loader = dotted(arg)
                    if "train" not in loader.lower() or names_eval(loader):
                        continue
                    held = [
                        e.name
                        for e in caller.events
                        if e.kind == "assign" and e.line == ev.line and role(last(e.name)) == "eval"
                    ]
                    if held:
                        out.append(_eval_on_train(f.rel, ev.line, held[0], scope.name, loader))
        return out


def _eval_on_train(rel: str, line: int, target: str, fn: str, loader: str) -> Finding:
    return finding(
        "data.split-overlap",
        f"`{target}` is computed by `{fn}` walking `{loader}`, the training data, so the "
        "'validation' score measures memorization and cannot show overfitting; pass the "
        "validation loader.",
        how="static",
        file=rel,
        line=line,
        detail={"function": fn, "loader": loader, "target": target},
    )


__all__ = ["EvalOnTrainDataRule", "PreprocessMismatchRule"]
