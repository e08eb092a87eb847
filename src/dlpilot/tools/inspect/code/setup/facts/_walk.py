"""The single walk of a file that gathers every setup fact, and ``facts_for``, its memo.

The walk visits the tree once, in source order, and hands each node to the topic collectors that
the file's text says are needed (``_gates``); each collector (``_training``, ``_loaders``,
``_augment``, ``_leaks``, ``_checkpoints``, ``_paths``) owns its state and its part of
:class:`FileFacts`. One walk for all topics was measured faster than one per topic (see
``docs/benchmarks.md``).
"""

from __future__ import annotations

import ast
import bisect
import re

from dlpilot.tools.inspect._base import SourceFile
from dlpilot.tools.inspect.code._names import const_str, is_test_path, last_name, target_names
from dlpilot.tools.inspect.code.setup.facts._augment import AugmentFacts
from dlpilot.tools.inspect.code.setup.facts._checkpoints import TEMPORARY, CheckpointFacts
from dlpilot.tools.inspect.code.setup.facts._context import Assign, Scope
from dlpilot.tools.inspect.code.setup.facts._file import FileFacts
from dlpilot.tools.inspect.code.setup.facts._gates import Needs, hint_lines, needs
from dlpilot.tools.inspect.code.setup.facts._leaks import LeakFacts
from dlpilot.tools.inspect.code.setup.facts._loaders import LoaderFacts
from dlpilot.tools.inspect.code.setup.facts._paths import PathFacts
from dlpilot.tools.inspect.code.setup.facts._training import TrainingFacts

_PRUNE_ABOVE = 30_000  # characters; smaller files are walked whole (cheap, and keeps context)
_REGISTERS_CALLBACK = re.compile(r"(?i)callback|hook")


def facts_for(f: SourceFile) -> FileFacts:
    """The facts of ``f``, computed once however many rules ask (kept on the file)."""
    return f.memo(_collect)


def _collect(f: SourceFile) -> FileFacts:
    facts = FileFacts(rel=f.rel, text=f.text, is_test=is_test_path(f.rel))
    if facts.is_test:
        return facts
    need = needs(f.text)
    if need.any():
        _Walker(f, facts, need).run()
    return facts


class _Walker(TrainingFacts, LoaderFacts, AugmentFacts, LeakFacts, CheckpointFacts, PathFacts):
    """Walks one tree once, in source order, keeping a stack of the names that give context."""

    def __init__(self, f: SourceFile, facts: FileFacts, need: Needs) -> None:
        super().__init__(f, facts, need)
        self._init_loaders()
        self._init_augment()
        self._hints: list[int] = []

    # --- traversal -------------------------------------------------------------------------
    def run(self) -> None:
        need = self.need
        if len(self.f.text) < _PRUNE_ABOVE:
            self._children(self.f.tree, self.module)
        else:
            # A large file (mostly library code): walk only the top-level statements and the
            # methods whose lines show a hint.
            self._hints = hint_lines(self.f.text, need)
            self._pruned_body(self.f.tree.body, self.module)
        self._finish()

    def _pruned_body(self, body: list[ast.stmt], scope: Scope) -> None:
        for stmt in body:
            if not self._hinted(stmt):
                continue
            if isinstance(stmt, ast.ClassDef):
                inner = Scope(stmt.name, stmt.name)
                self.scopes.append(inner)
                self._pruned_body(stmt.body, inner)
            else:
                self._node(stmt, scope)

    def _hinted(self, stmt: ast.stmt) -> bool:
        lo = stmt.lineno
        hi = stmt.end_lineno or lo
        i = bisect.bisect_left(self._hints, lo)
        return i < len(self._hints) and self._hints[i] <= hi

    def _children(self, node: ast.AST, scope: Scope) -> None:
        """``ast.iter_child_nodes`` without its generator, and without the childless nodes
        (``Load``, ``Store``, operators, ``pass``), which no collector reads."""
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST) and item._fields:
                        self._node(item, scope)
            elif isinstance(value, ast.AST) and value._fields:
                self._node(value, scope)

    def _node(self, node: ast.AST, scope: Scope) -> None:
        t = type(node)
        if t is ast.Name:
            if self.assigning:
                self.assigning[-1].loads.add(node.id)  # type: ignore[attr-defined]
            return
        if t is ast.Constant:
            if self.need.paths and isinstance(node.value, str):  # type: ignore[attr-defined]
                self._path(node.value, node.lineno)  # type: ignore[attr-defined]
            return
        if t is ast.Call:
            assert isinstance(node, ast.Call)
            scope.calls.append(node)
            if self.loop_depth:
                self.looped.add(id(node))
                self.called_in_loop.add(last_name(node.func))
            if _REGISTERS_CALLBACK.search(last_name(node.func)):
                # set_callback('on_batch_end', fn), add_callback(fn), register_*_hook(fn): the
                # trainer calls fn while it trains, as a loop would
                for a in [*node.args, *(kw.value for kw in node.keywords)]:
                    if isinstance(a, ast.Name | ast.Attribute):
                        self.called_in_loop.add(last_name(a))
            self._call(node, scope)
            self._node(node.func, scope)
            for a in node.args:
                self._node(a, scope)
            for kw in node.keywords:
                if kw.arg == "help":
                    continue
                self.ctx.append(kw.arg or "")
                self._node(kw.value, scope)
                self.ctx.pop()
            return
        if t is ast.Assign or t is ast.AnnAssign:
            assert isinstance(node, ast.Assign | ast.AnnAssign)
            if node.value is None:
                return
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n for tg in targets for n in target_names(tg)]
            rec = Assign(node.lineno, names, list(targets), node.value)
            scope.assigns.append(rec)
            in_class_body = bool(scope.cls) and scope.name == scope.cls
            if (isinstance(node, ast.AnnAssign) and in_class_body) or scope is self.module:
                self._int_default(names, node.value)
            for tg in targets:
                if not isinstance(tg, ast.Name):
                    self._node(tg, scope)
            self.ctx.append(names[0] if len(names) == 1 else "")
            self.assigning.append(rec)
            self._node(node.value, scope)
            self.assigning.pop()
            self.ctx.pop()
            return
        if t is ast.Dict:
            assert isinstance(node, ast.Dict)
            for k, v in zip(node.keys, node.values, strict=True):
                if k is not None:
                    self._node(k, scope)
                self.ctx.append(const_str(k) or "")
                self._node(v, scope)
                self.ctx.pop()
            return
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            inner = Scope(node.name, scope.cls)
            self.scopes.append(inner)
            self.ctx.append(node.name)
            saved, self.assigning = self.assigning, []
            depth, self.loop_depth = self.loop_depth, 0
            self._children(node, inner)
            self.assigning = saved
            self.loop_depth = depth
            self.ctx.pop()
            if node.name == "__getitem__" and scope.cls and self.need.datasets:
                self._dataset_randomness(inner, scope.cls, node.lineno)
            return
        if t is ast.ClassDef:
            assert isinstance(node, ast.ClassDef)
            inner = Scope(node.name, node.name)
            self.scopes.append(inner)
            self._children(node, inner)
            return
        if t is ast.AugAssign and self.need.training:
            assert isinstance(node, ast.AugAssign)
            self._training_augassign(node)
        if t is ast.For or t is ast.While or t is ast.AsyncFor:
            self.loop_depth += 1
            self._children(node, scope)
            self.loop_depth -= 1
            return
        if t is ast.With or t is ast.AsyncWith:
            for item in node.items:  # type: ignore[attr-defined]
                ctx = item.context_expr
                bound = item.optional_vars
                temporary = isinstance(ctx, ast.Call) and last_name(ctx.func) in TEMPORARY
                if bound is not None and temporary:
                    self.temp_names.update(target_names(bound))
        if t is ast.Expr:
            value = node.value  # type: ignore[attr-defined]
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return  # a docstring or bare string: documentation, not code
        self._children(node, scope)

    def _call(self, call: ast.Call, scope: Scope) -> None:
        name = last_name(call.func)
        if self.need.training:
            self._training_call(call, name)
        if name == "add_argument":
            self._argparse_default(call)
        if self.need.loaders and name.endswith("DataLoader"):
            self._loader(call, scope)
        if self.need.augment:
            self._augment(call, name, scope)
        if self.need.roles:
            self._kwarg_overlap(call, name)
        if self.need.leak:
            self._stats(call, name, scope)

    def _finish(self) -> None:
        self._finish_checkpoints()
        if self.need.roles or self.need.leak:
            for sc in self.scopes:
                self._scope_splits(sc)
            self._finish_augment()
        self._finish_loaders()
        self.facts.overlap_issues.sort()


__all__ = ["facts_for"]
