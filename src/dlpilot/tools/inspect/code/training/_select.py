"""Model selection on the training metric: the "best" checkpoint or early stopping decided by
comparing a training loss or accuracy, which keeps improving while the model overfits."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Rule, SourceFile
from dlpilot.tools.inspect.code._names import call_attr, dotted, last, names_eval

_BEST = re.compile(r"best|lowest|min_loss|max_acc|highest", re.IGNORECASE)
_COUNTER = re.compile(r"patience|wait|counter|bad|stale|no_improve|trigger|since", re.IGNORECASE)
_SAVES = re.compile(r"save|state_dict|deepcopy|checkpoint|copy", re.IGNORECASE)
_TRAIN_FUNC = re.compile(r"^_?(train|fit)\w*$|^run_epoch$|^epoch$|^one_epoch$")
_BEST_WORDS = ("best", "Best", "BEST", "lowest", "min_loss", "max_acc", "highest")
_ORDERS = (ast.Lt, ast.Gt, ast.LtE, ast.GtE)


def _held_out(text: str) -> bool:
    """A held-out metric or data, or a score (which is not the training loss)."""
    return names_eval(text) or "score" in text.lower()


def _compare_lines(text: str) -> set[int]:
    """Line numbers of ``if`` lines that compare something with a "best" value."""
    out: set[int] = set()
    for pos in find_all(text, _BEST_WORDS):
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        line = text[start : end if end != -1 else len(text)].lstrip()
        if line.startswith(("if ", "elif ")) and ("<" in line or ">" in line):
            out.add(text.count("\n", 0, start) + 1)
    return out


def find_all(text: str, words: tuple[str, ...]) -> Iterable[int]:
    """Every position of any of ``words`` (plain substring search: much faster than a regex
    alternation over large files)."""
    for word in words:
        pos = text.find(word)
        while pos != -1:
            yield pos
            pos = text.find(word, pos + len(word))


def _bodies(tree: ast.Module) -> Iterable[list[ast.stmt]]:
    yield tree.body
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.body


def _selects(node: ast.If) -> str:
    """What the guarded code does with the comparison: saves, keeps a copy, or counts patience."""
    for sub in [*node.body, *node.orelse]:
        for n in ast.walk(sub):
            if isinstance(n, ast.Call) and _SAVES.search(dotted(n.func) or call_attr(n)):
                return "saves the best model"
            if isinstance(n, ast.Assign | ast.AugAssign):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                if any(_COUNTER.search(dotted(t)) for t in targets):
                    return "drives early stopping"
            if isinstance(n, ast.Break):
                return "drives early stopping"
    return ""


class _Body:
    """The plain facts of one function body the rule needs: assignments and training losses."""

    def __init__(self, body: list[ast.stmt]) -> None:
        self.values: dict[str, ast.expr] = {}
        self.backward: set[str] = set()
        self.accumulated: set[str] = set()
        nodes = [n for stmt in body for n in _walk_here(stmt)]
        for n in nodes:
            func = n.func if isinstance(n, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr == "backward":
                self.backward.add(dotted(func.value))
        for n in nodes:
            if isinstance(n, ast.Assign) and len(n.targets) == 1:
                self.values[dotted(n.targets[0])] = n.value
            elif isinstance(n, ast.AugAssign) and self._from_loss(n.value):
                self.accumulated.add(dotted(n.target))

    def _from_loss(self, expr: ast.expr) -> bool:
        return any(dotted(n) in self.backward for n in ast.walk(expr) if dotted(n))

    def training_metric(self, expr: ast.expr, depth: int = 0) -> str:
        """Why ``expr`` is a training metric ("" when it is not, or cannot be told)."""
        text = ast.unparse(expr)
        if _held_out(text):
            return ""
        name = dotted(expr)
        if "train" in text.lower():
            return f"`{text}` is a training metric"
        if name in self.accumulated or name in self.backward:
            return f"`{name}` sums the back-propagated loss"
        if isinstance(expr, ast.Call):
            called = last(dotted(expr.func))
            if _TRAIN_FUNC.match(called):
                args = " ".join(ast.unparse(a) for a in expr.args)
                if not _held_out(args) and "train=False" not in ast.unparse(expr):
                    return f"it comes from `{called}(...)`"
        if isinstance(expr, ast.Subscript | ast.BinOp | ast.Call):
            for n in ast.walk(expr):
                nm = dotted(n)
                if nm and (nm in self.accumulated or nm in self.backward):
                    return f"it is computed from `{nm}`, the back-propagated loss"
        if name and name in self.values and depth < 3:
            return self.training_metric(self.values[name], depth + 1)
        return ""


def _walk_here(node: ast.AST) -> Iterable[ast.AST]:
    """Every node under ``node`` that is not inside a nested function or class."""
    todo = [node]
    while todo:
        cur = todo.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                todo.append(child)


class SelectOnTrainMetricRule(Rule):
    """Early stopping or the best checkpoint judged on a training metric."""

    ids: ClassVar[tuple[str, ...]] = ("train.select-on-train-metric",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        out: list[Finding] = list(_monitors(f)) if "monitor" in text else []
        if not any(w in text for w in _BEST_WORDS):
            return out
        lines = _compare_lines(text)
        if not lines:
            return out
        for body in _bodies(f.tree):
            if not body or not any(
                body[0].lineno <= n <= (body[-1].end_lineno or body[-1].lineno) for n in lines
            ):
                continue
            facts: _Body | None = None
            for node in (n for stmt in body for n in _walk_here(stmt)):
                if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
                    continue
                test = node.test
                if len(test.comparators) != 1 or not isinstance(test.ops[0], _ORDERS):
                    continue
                left, right = test.left, test.comparators[0]
                if _BEST.search(ast.unparse(right)):
                    metric = left
                elif _BEST.search(ast.unparse(left)):
                    metric = right
                else:
                    continue
                does = _selects(node)
                if not does:
                    continue
                facts = facts or _Body(body)
                why = facts.training_metric(metric)
                if why:
                    out.append(_finding(f.rel, node, metric, why, does))
        return out


_MONITORS = {"EarlyStopping": "drives early stopping", "ModelCheckpoint": "keeps the best model"}


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound once to a string (``MONITOR = "train_loss"``)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            t = stmt.targets[0]
            if isinstance(t, ast.Name):
                if t.id in seen:
                    out.pop(t.id, None)  # bound twice: cannot be told
                    continue
                seen.add(t.id)
                v = stmt.value
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    out[t.id] = v.value
    return out


def _monitors(f: SourceFile) -> Iterable[Finding]:
    """``EarlyStopping(monitor=...)`` / ``ModelCheckpoint(monitor=...)`` (Lightning, Keras
    style) naming a training metric, given as a string or a module-level constant."""
    consts: dict[str, str] | None = None
    for node in ast.walk(f.tree):
        if not isinstance(node, ast.Call):
            continue
        does = _MONITORS.get(last(dotted(node.func)) or call_attr(node))
        if not does:
            continue
        for kw in node.keywords:
            if kw.arg != "monitor":
                continue
            value = kw.value
            name = ""
            if isinstance(value, ast.Name):
                consts = _module_strings(f.tree) if consts is None else consts
                name = consts.get(value.id, "")
            elif isinstance(value, ast.Constant) and isinstance(value.value, str):
                name = value.value
            if name and "train" in name.lower() and not _held_out(name):
                yield finding(
                    "train.select-on-train-metric",
                    f"{last(dotted(node.func)) or 'The callback'} at line {node.lineno} {does} "
                    f"on the monitored metric '{name}', a training metric: it keeps improving "
                    "while the model overfits, so the 'best' model is simply the last one and "
                    "early stopping never fires; monitor a validation metric (e.g. 'val_loss').",
                    how="static",
                    file=f.rel,
                    line=node.lineno,
                    detail={"metric": name},
                )


def _finding(rel: str, node: ast.If, metric: ast.expr, why: str, does: str) -> Finding:
    shown = ast.unparse(metric)
    return finding(
        "train.select-on-train-metric",
        f"The comparison at line {node.lineno} {does} on `{shown}`, and {why}: the training "
        "metric keeps improving while the model overfits, so the 'best' model is simply the "
        "last one and early stopping never fires; compare a validation metric instead.",
        how="static",
        file=rel,
        line=node.lineno,
        detail={"metric": shown},
    )


__all__ = ["SelectOnTrainMetricRule", "find_all"]
