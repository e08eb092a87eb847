"""Rules on how modules are called: ``model.train`` without parentheses, ``model.forward(x)``."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Rule, SourceFile
from dlpilot.tools.inspect.code._names import is_model_name
from dlpilot.tools.inspect.code.training._flow import enclosing_class
from dlpilot.tools.inspect.code.training._index import bare_mode_text, index_of

_CALLER_NAMES = ("forward", "_forward", "__call__", "_call_impl")


class ModeCallParensRule(Rule):
    """``model.eval`` / ``model.train`` written as a statement: the method is never called."""

    ids: ClassVar[tuple[str, ...]] = ("loop.mode-call-missing-parens",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        if not bare_mode_text(f.text):
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            for ev in scope.events:
                if ev.kind != "bare_mode":
                    continue
                target = f"{ev.recv}.{ev.name}" if ev.recv else ev.name
                out.append(
                    finding(
                        "loop.mode-call-missing-parens",
                        f"`{target}` names the method without calling it, so the mode never "
                        f"changes; write `{target}()`.",
                        how="static",
                        file=f.rel,
                        line=ev.line,
                        detail={"expression": target},
                    )
                )
        return out


class ForwardCallRule(Rule):
    """``model.forward(x)`` outside model code: hooks (and some wrappers) are skipped."""

    ids: ClassVar[tuple[str, ...]] = ("loop.forward-called-directly",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        if ".forward(" not in f.text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            if scope.name.startswith(_CALLER_NAMES):
                continue
            cls = enclosing_class(scope)
            if cls is not None and (cls.looks_like_module() or "Function" in " ".join(cls.bases)):
                continue
            for ev in scope.events:
                if ev.kind != "call" or ev.role != "forward" or not ev.recv:
                    continue
                if ev.recv in {"self", "cls", "super()"} or ev.recv[:1].isupper():
                    continue
                if not is_model_name(ev.recv):
                    continue  # `runner.forward(batch)`: any object may have a forward method
                call = ev.node
                assert isinstance(call, ast.Call)
                first = call.args[0] if call.args else None
                if isinstance(first, ast.Name) and (
                    first.id in {"self", "ctx"} or is_model_name(first.id)
                ):
                    continue  # `helper.forward(model, x)` runs a model; it is not one
                out.append(
                    finding(
                        "loop.forward-called-directly",
                        f"`{ev.recv}.forward(...)` bypasses the module's `__call__`, so forward "
                        f"hooks and wrappers (DDP, AMP, profilers) are skipped; call "
                        f"`{ev.recv}(...)` instead.",
                        how="static",
                        file=f.rel,
                        line=ev.line,
                        detail={"module": ev.recv},
                    )
                )
        return out


__all__ = ["ForwardCallRule", "ModeCallParensRule"]
