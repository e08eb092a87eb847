"""Rules on the optimization loop itself: clearing gradients, stepping, keeping loss graphs."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect.code._names import (
    call_attr,
    dotted,
    is_non_stepping_call,
    is_optimizer_class,
    is_optimizer_name,
    last,
)
from dlpilot.tools.inspect.code.training._flow import (
    Effect,
    branch_compatible,
    dominates,
    is_optimizer,
    optimizer_names,
    resolve,
    scope_effects,
)
from dlpilot.tools.inspect.code.training._index import Event, FileIndex, Scope, index_of

_ZERO_TEXT = re.compile(r"zero_grad|grad\s*=\s*None|grad(?:\.data)?\.zero_\(|set_to_none")
_STEP_ARG = re.compile(r"\s*\(\s*([A-Za-z_][\w.]*)")


def _word_back(text: str, end: int) -> str:
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."):
        start -= 1
    return text[start:end]


def _stepped_names(text: str) -> set[str]:
    """Receivers (and ``scaler.step(opt)`` arguments) of every ``.step`` in the text."""
    out: set[str] = set()
    pos = text.find(".step")
    while pos != -1:
        out.add(last(_word_back(text, pos)))
        m = _STEP_ARG.match(text, pos + 5)
        if m:
            out.add(last(m.group(1)))
        pos = text.find(".step", pos + 5)
    return out


def _words_around(text: str, needle: str) -> set[str]:
    out: set[str] = set()
    pos = text.find(needle)
    while pos != -1:
        end = pos
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        out.add(last(_word_back(text, pos) + text[pos:end]))
        pos = text.find(needle, end + 1)
    return out


_DETACHING = frozenset({"item", "detach", "tolist", "numpy", "data", "cpu"})


def _innermost_training_loops(scope: Scope, effs: list[Effect]) -> dict[int, list[Effect]]:
    """Loops that hold both a backward pass and an optimizer step, with no inner loop that does."""
    per_loop: dict[int, list[Effect]] = {}
    for eff in effs:
        for loop_id in eff.event.loops:
            per_loop.setdefault(loop_id, []).append(eff)
    both = {
        lid: effs_
        for lid, effs_ in per_loop.items()
        if any(e.kind == "backward" for e in effs_) and any(e.kind == "step" for e in effs_)
    }
    inner_parents: set[int] = set()
    for lid in both:
        parent = scope.loops[lid].parent
        while parent is not None:
            inner_parents.add(parent)
            parent = scope.loops[parent].parent
    return {lid: effs_ for lid, effs_ in both.items() if lid not in inner_parents}


def _clears_by_name(ix: FileIndex, scope: Scope, events: Iterable[Event]) -> bool:
    """A call whose name says it clears gradients, or an assignment ``p.grad = ...``."""
    for ev in events:
        if ev.kind == "assign" and (ev.name.endswith(".grad") or ev.name == "grad"):
            return True
        if ev.kind == "call" and resolve(ix, scope, ev) is None:
            name = (call_attr(ev.node) if isinstance(ev.node, ast.Call) else "").lower()
            if "zero" in name or ("grad" in name and ("clear" in name or "reset" in name)):
                return True
    return False


class ZeroGradRule(Rule):
    """Gradients never cleared in a training loop, or cleared between ``backward()`` and
    ``step()``."""

    ids: ClassVar[tuple[str, ...]] = ("loop.zero-grad-missing", "loop.zero-grad-misplaced")

    def __init__(self) -> None:
        self._project_clears = False
        self._pending: list[Finding] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if not self._project_clears and _ZERO_TEXT.search(text):
            self._project_clears = True
        if "backward(" not in text or "step(" not in text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            effs = scope_effects(ix, scope)
            if not any(e.kind == "backward" for e in effs):
                continue
            out.extend(self._missing(ix, scope, effs, f.rel))
            out.extend(_misplaced(ix, scope, effs, f.rel))
        return out

    def _missing(self, ix: FileIndex, scope: Scope, effs: list[Effect], rel: str) -> list[Finding]:
        out: list[Finding] = []
        loops = _innermost_training_loops(scope, effs)
        for lid, loop_effs in loops.items():
            if any(e.kind == "zero" for e in loop_effs):
                continue
            backs = [e for e in loop_effs if e.kind == "backward"]
            if backs and all(e.event.extra == "context" for e in backs):
                continue  # distributed autograd: each context holds its own gradients
            loop_events = [e for e in scope.events if lid in e.loops]
            if _clears_by_name(ix, scope, loop_events):
                continue
            step = next(e for e in loop_effs if e.kind == "step")
            backward = next(e for e in loop_effs if e.kind == "backward")
            outside = any(e.kind == "zero" for e in effs)
            where = "only outside this loop" if outside else "nowhere"
            out.append(
                finding(
                    "loop.zero-grad-missing",
                    f"Gradients are cleared {where}, so each optimizer step uses gradients "
                    "summed over all earlier batches; call `optimizer.zero_grad()` once per "
                    "step (before `backward()` or after `step()`).",
                    how="static",
                    file=rel,
                    line=step.line,
                    detail={
                        "optimizer": step.recv,
                        "loop_line": scope.loops[lid].line,
                        "backward_line": backward.line,
                        "step_line": step.line,
                    },
                )
            )
        if loops or any(e.kind == "zero" for e in effs) or scope.name == "<module>":
            return out
        if _clears_by_name(ix, scope, scope.events):
            return out
        # Only this scope's own calls: a called function's steps are judged in its own scope,
        # with the loop it has (or, loop-less, by this same branch there).
        steps = [e for e in effs if e.kind == "step" == e.event.role and not e.event.loops]
        backs = [e for e in effs if e.kind == "backward" == e.event.role and not e.event.loops]
        if all(e.event.extra == "context" for e in backs):
            return out  # distributed autograd: each context holds its own gradients
        if steps and steps[0].event.extra != "args":
            # A step function with no loop: the loop is elsewhere; judge it at the end, and only
            # if nothing in the project clears gradients.
            self._pending.append(
                finding(
                    "loop.zero-grad-missing",
                    f"`{scope.name}` runs `backward()` and an optimizer step but gradients are "
                    "never cleared anywhere, so they accumulate across steps; call "
                    "`optimizer.zero_grad()` once per step.",
                    how="static",
                    file=rel,
                    line=steps[0].line,
                    detail={"function": scope.name, "optimizer": steps[0].recv},
                )
            )
        return out

    def finish(self, project: Project) -> Iterable[Finding]:
        return [] if self._project_clears else self._pending


def _misplaced(ix: FileIndex, scope: Scope, effs: list[Effect], rel: str) -> list[Finding]:
    out: list[Finding] = []
    opts = optimizer_names(ix)
    for i, step in enumerate(effs):
        ev = step.event
        if step.kind != "step" or ev.role != "step" or ev.extra == "args" or not step.recv:
            continue
        owners = opts.get(step.recv, set()) | opts.get(last(step.recv), set())
        zero: Effect | None = None
        for prev in reversed(effs[:i]):
            if prev.kind == "backward" or (prev.kind == "step" and prev.recv == step.recv):
                break
            if (
                prev.kind == "zero"
                and (
                    (prev.event.role == "zero" and (prev.recv == step.recv or prev.recv in owners))
                    or _helper_clears(ix, scope, prev, {step.recv, *owners})
                )
                and prev.event.loops == ev.loops
                and dominates(prev.event, ev)
            ):
                zero = prev
                break
        if zero is None:
            continue
        between = [e for e in scope.events if zero.event.order < e.order < ev.order]
        if any(
            e.kind == "call" and ("backward" in e.name or "loss" in e.name.lower()) for e in between
        ):
            continue
        backward = None
        for prev in reversed(effs[: effs.index(zero)]):
            if prev.kind == "step" and prev.recv == step.recv:
                break
            if (
                prev.kind == "backward"
                and prev.event.loops[: len(ev.loops)] == ev.loops
                and branch_compatible(prev.event, zero.event)
            ):
                backward = prev
                break
        if backward is None:
            continue
        cleared = f"{zero.recv}.zero_grad()" if zero.recv else f"{zero.event.name}(...)"
        out.append(
            finding(
                "loop.zero-grad-misplaced",
                f"`{cleared}` runs after `backward()` and before "
                f"`{step.recv}.step()`, so the step sees zero gradients and nothing is learned; "
                "clear gradients before `backward()` or after `step()`.",
                how="static",
                file=rel,
                line=zero.line,
                detail={
                    "optimizer": step.recv,
                    "cleared": zero.recv or zero.event.name,
                    "backward_line": backward.line,
                    "step_line": step.line,
                },
            )
        )
    return out


def _helper_clears(ix: FileIndex, scope: Scope, eff: Effect, targets: set[str]) -> bool:
    """A call of a helper of this file (a logging function, say) that clears the gradients of
    a model or optimizer it is handed, one of ``targets``."""
    if eff.event.role or resolve(ix, scope, eff.event) is None:
        return False
    call = eff.event.node
    assert isinstance(call, ast.Call)
    handed = {dotted(a) for a in [*call.args, *(k.value for k in call.keywords)]}
    return bool(handed & targets) or bool({last(h) for h in handed if h} & targets)


class StepMissingRule(Rule):
    """``backward()`` runs with an optimizer at hand, but that optimizer is never stepped."""

    ids: ClassVar[tuple[str, ...]] = ("loop.step-missing",)

    def __init__(self) -> None:
        self._stepped: set[str] = set()
        self._handed: set[str] = set()
        self._candidates: list[tuple[str, int, frozenset[str]]] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if ".step" in text:
            self._stepped.update(_stepped_names(text))
        if "backward(" not in text:
            # Without an index, any optimizer-looking word might be handed to a stepping call.
            if ".step" in text or "optimizers" in text or "Trainer" in text:
                self._handed.update(_words_around(text, "opt"))
            return []
        ix = index_of(f)
        if ix is None:
            return []
        words = {w for w in _words_around(text, "opt") if is_optimizer_name(w)}
        for scope in ix.scopes:
            if words:
                self._note_handed(ix, scope, words)
            self._note_candidate(ix, scope, f.rel)
        return []

    def _note_handed(self, ix: FileIndex, scope: Scope, words: set[str]) -> None:
        for ev in scope.events:
            if ev.kind != "call" or not isinstance(ev.node, ast.Call) or ev.role:
                continue
            names: list[str] = []
            for arg in [*ev.node.args, *(k.value for k in ev.node.keywords)]:
                if isinstance(arg, ast.Starred):
                    arg = arg.value
                if isinstance(arg, (ast.Tuple, ast.List)):
                    names += [n for n in map(dotted, arg.elts) if n]
                elif isinstance(arg, (ast.Name, ast.Attribute)):
                    name = dotted(arg)
                    if name and last(name) in words:
                        names.append(name)
            if not names:
                continue
            if resolve(ix, scope, ev) is not None or is_non_stepping_call(ev.node):
                continue
            self._handed.update(last(n) for n in names)

    def _note_candidate(self, ix: FileIndex, scope: Scope, rel: str) -> None:
        backs = [
            e
            for e in scope.events
            if e.kind == "call" and e.role == "backward" and e.extra != "wrapper"
        ]
        backs += [
            e
            for e in scope.events
            if e.kind == "call" and e.role == "backward" and "accelerat" in e.name.lower()
        ]
        if not backs:
            return
        names = {
            last(e.recv)
            for e in scope.events
            if e.kind == "call" and e.role == "zero" and is_optimizer(ix, e.recv)
        }
        names |= {
            last(e.name)
            for e in scope.events
            if e.kind == "assign" and isinstance(e.node, ast.Call) and is_optimizer_class(e.node)
        }
        if names:
            self._candidates.append((rel, min(e.line for e in backs), frozenset(names)))

    def finish(self, project: Project) -> Iterable[Finding]:
        out: list[Finding] = []
        known = self._stepped | self._handed
        for rel, line, names in self._candidates:
            if names & known:
                continue
            shown = ", ".join(sorted(names))
            out.append(
                finding(
                    "loop.step-missing",
                    f"`backward()` computes gradients but `{shown}.step()` is never called, so "
                    "the weights never change; call `optimizer.step()` after `backward()`.",
                    how="static",
                    file=rel,
                    line=line,
                    detail={"optimizers": shown},
                )
            )
        return out


def _bare(expr: ast.expr, name: str) -> bool:
    """Whether ``expr`` carries the tensor ``name`` itself (not ``name.item()`` and the like)."""
    if dotted(expr) == name:
        return True
    if isinstance(expr, ast.BinOp):
        return _bare(expr.left, name) or _bare(expr.right, name)
    if isinstance(expr, ast.UnaryOp):
        return _bare(expr.operand, name)
    return False


def _detached(value: ast.AST | None) -> bool:
    if isinstance(value, ast.Call):
        if isinstance(value.func, ast.Name) and value.func.id in {"float", "int"}:
            return True
        if isinstance(value.func, ast.Attribute) and value.func.attr in _DETACHING:
            return True
    if isinstance(value, ast.Attribute) and value.attr == "data":
        return True
    return isinstance(value, ast.Constant)


class LossGraphRule(Rule):
    """A back-propagated loss is summed or collected as a tensor, keeping every step's graph."""

    ids: ClassVar[tuple[str, ...]] = ("loop.loss-graph-retained",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "backward(" not in text or "loss" not in text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        seen: set[int] = set()
        for scope in ix.scopes:
            backs = [e for e in scope.events if e.kind == "call" and e.role == "backward"]
            if not backs:
                continue
            back_names = {e.recv for e in backs if e.recv}
            for ev in scope.events:
                if not ev.loops or ev.no_grad or ev.order in seen:
                    continue
                target, value = _accumulation(ev)
                if value is None or target in back_names:
                    continue
                for back in backs:
                    loss = back.recv
                    if not loss or loss == target:
                        continue
                    if not set(back.loops) & set(ev.loops) or not _bare(value, loss):
                        continue
                    if _detached(_value_before(scope, loss, ev)):
                        continue
                    seen.add(ev.order)
                    out.append(
                        finding(
                            "loop.loss-graph-retained",
                            f"`{target}` accumulates the loss tensor `{loss}` itself, which keeps "
                            "every step's autograd graph alive and grows memory; accumulate "
                            f"`{loss}.item()` (or `{loss}.detach()`) instead.",
                            how="static",
                            file=f.rel,
                            line=ev.line,
                            detail={"accumulator": target, "loss": loss},
                        )
                    )
                    break
        return out


def _accumulation(ev: Event) -> tuple[str, ast.expr | None]:
    """(accumulator, added expression) for ``t += x``, ``t = t + x`` and ``t.append(x)``."""
    node = ev.node
    if ev.kind == "augassign" and isinstance(node, ast.AugAssign):
        if isinstance(node.op, ast.Add):
            return ev.name, node.value
    elif ev.kind == "assign" and isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        if dotted(node.left) == ev.name:
            return ev.name, node.right
        if dotted(node.right) == ev.name:
            return ev.name, node.left
    elif ev.kind == "call" and ev.role == "append" and isinstance(node, ast.Call):
        return ev.recv, node.args[0]
    return "", None


def _value_before(scope: Scope, name: str, ev: Event) -> ast.AST | None:
    found: ast.AST | None = None
    for other in scope.events:
        if other.order >= ev.order:
            break
        if other.kind == "assign" and other.name == name:
            found = other.node
    return found


__all__ = ["LossGraphRule", "StepMissingRule", "ZeroGradRule"]
