"""Rules on train / eval mode and on grad mode during validation."""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._astnames import dotted
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect.code._names import is_model_name, last, names_eval, root
from dlpilot.tools.inspect.code.training._flow import (
    Effect,
    assigned_roots,
    call_argument,
    enclosing_class,
    map_name,
    module_names,
    resolve,
    scope_effects,
    summary,
    touches,
    trained_modules,
)
from dlpilot.tools.inspect.code.training._index import (
    Event,
    FileIndex,
    Loop,
    Scope,
    index_of,
    mode_text,
)
from dlpilot.tools.inspect.code.training._modescope import ModeFacts, ModeScope, mode_facts
from dlpilot.tools.inspect.code.training._order import steps_during_eval

_EVAL_NAME = re.compile(
    r"^_?(?:(?:val|valid|validate|validation|eval|evaluate|evaluation|test|testing|predict|"
    r"inference|infer)(?:_(?!step$|epoch_end$|dataloader$)\w*)?|\w+_(?:eval|evaluate|evaluation|"
    r"validate|validation|val|test|predict|prediction|inference))$"
)
_CALLED = re.compile(r"(\w+)\s*\(")
_BUILTINS = frozenset(dir(builtins))
# a module-level def: a literal "\n" first lets the regex engine skip ahead (a MULTILINE "^" is
# tried at every position, four times slower over large files)
_TOP_DEF = re.compile(r"\n(?:async[ \t]+)?def[ \t]+(\w+)")
_GRAD_OFF_WINDOW = 600  # characters after a no_grad that a with-block's calls usually fit in


def _first_def(text: str) -> list[str]:
    """The function a file's first line defines, if it does (``_TOP_DEF`` needs a newline)."""
    if not text.startswith(("def", "async")):
        return []
    m = _TOP_DEF.match("\n" + text[:200])
    return [m.group(1)] if m else []


def _calls_after_grad_off(text: str) -> set[str]:
    """Names called shortly after each ``no_grad`` / ``inference_mode`` / ``set_grad_enabled``."""
    out: set[str] = set()
    for needle in ("no_grad", "inference_mode", "set_grad_enabled"):
        pos = text.find(needle)
        while pos != -1:
            out.update(_CALLED.findall(text, pos, pos + _GRAD_OFF_WINDOW))
            pos = text.find(needle, pos + _GRAD_OFF_WINDOW)
    return out


def is_eval_function(scope: Scope) -> bool:
    """A function that, by its name, runs validation, testing or inference."""
    name = scope.name
    if name.startswith("test_") or scope.name == "<module>":
        return False
    return _EVAL_NAME.match(name) is not None


def _lightning(scope: Scope) -> bool:
    cls = enclosing_class(scope)
    return cls is not None and cls.is_lightning()


def _covers(parent: str, module: str) -> bool:
    return bool(parent) and (module == parent or module.startswith(parent + "."))


def _forwards(ix: FileIndex, events: Iterable[Event]) -> list[Event]:
    """Calls of a model: ``model(x)``, ``self.net(x)``."""
    modules = module_names(ix)
    return [
        e
        for e in events
        if e.kind == "call"
        and not e.role
        and e.name
        and isinstance(e.node, ast.Call)
        and (is_model_name(e.name) or e.name in modules)
    ]


class ModeRule(Rule):
    """Modules left in eval mode while training, in train mode while validating, and validation
    that builds autograd graphs."""

    ids: ClassVar[tuple[str, ...]] = (
        "mode.eval-during-training",
        "mode.train-during-eval",
        "mode.eval-grad-enabled",
    )

    def __init__(self) -> None:
        self._called_without_grad: set[str] = set()
        self._pending_grad: list[tuple[str, Finding]] = []
        self._pending_mode: list[Finding] = []
        # per file: some module there may compute differently in train / eval; it defines its
        # own nn.Module classes; the modules it imports (judged per sub-project in finish)
        self._files: dict[str, ModeFacts] = {}
        # module-level functions that leave a parameter in eval mode: name -> [(file, params,
        # the parameters left in eval mode)]; and calls to functions of other files made inside
        # a training loop, judged against them in finish
        self._eval_helpers: dict[str, list[tuple[str, list[str], list[str]]]] = {}
        self._foreign_calls: list[_ForeignCall] = []
        self._defined: dict[str, set[str]] = {}  # module-level function name -> files

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        self._files[f.rel] = mode_facts(text, f.tree)
        if "no_grad" in text or "inference_mode" in text or "set_grad_enabled" in text:
            # A helper may be called under no_grad here; judged by name at the end.
            self._called_without_grad.update(_calls_after_grad_off(text))
        if "def " in text:
            for name in [*_first_def(text), *_TOP_DEF.findall(text)]:
                self._defined.setdefault(name, set()).add(f.rel)
        if not mode_text(text):
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        seen: set[tuple[str, int]] = set()
        # loops that run a shared epoch function for evaluation which still steps: that is
        # mode.step-during-eval (its own rule), not a model left in eval mode
        stepping = {
            item.caller.loops[lid].line
            for item in steps_during_eval(ix, f.tree)
            for lid in item.call.loops
        }
        for scope in ix.scopes:
            for ev in scope.events:
                if ev.kind == "call" and (ev.no_grad or ev.grad_managed) and ev.name:
                    self._called_without_grad.add(last(ev.name))
            if _lightning(scope):
                continue
            _note_eval_helper(ix, scope, f.rel, self._eval_helpers)
            self._foreign_calls.extend(_foreign_calls(ix, scope, f.rel))
            for item in [
                *_eval_during_training(ix, scope, f.rel),
                *_train_during_eval(ix, scope, f.rel),
            ]:
                key = (item.id, item.evidence[0].line or 0)
                if item.evidence[0].detail.get("loop_line") in stepping:
                    continue
                if key not in seen:
                    seen.add(key)
                    self._pending_mode.append(item)
            for item in _eval_grad_enabled(ix, scope, f.rel):
                if scope.name == "<module>":
                    out.append(item)
                else:
                    self._pending_grad.append((scope.name, item))
        return out

    def finish(self, project: Project) -> Iterable[Finding]:
        out = [item for name, item in self._pending_grad if name not in self._called_without_grad]
        # Mode findings stand unless every model the finding's code can reach is the project's
        # own and none of them has a layer that behaves differently in train and eval mode.
        matters = ModeScope(self._files)
        kept = [i for i in self._pending_mode if matters(i.evidence[0].file)]
        out[:0] = kept
        found = {(i.id, i.evidence[0].file, i.evidence[0].line) for i in kept}
        for item in _cross_file(self._foreign_calls, self._eval_helpers, self._defined):
            key = (item.id, item.evidence[0].file, item.evidence[0].line)
            if key not in found and matters(item.evidence[0].file):
                out.append(item)
        return out


def _restores(effs: Iterable[Effect], module: str) -> bool:
    """Whether one of these effects may put ``module`` back in train mode."""
    return any(
        (e.kind == "train" and _covers(e.recv, module))
        or (e.kind == "mode?" and (not e.recv or _covers(e.recv, module)))
        or (e.kind == "opaque" and touches(e.recv, module))
        for e in effs
    )


def _eval_during_training(ix: FileIndex, scope: Scope, rel: str) -> list[Finding]:
    if not scope.loops:
        return []
    effs = scope_effects(ix, scope)
    if not any(e.kind == "eval" for e in effs) or not any(e.kind == "step" for e in effs):
        return []
    trained = trained_modules(ix) | {e.recv for e in effs if e.kind == "train" and e.recv}
    out: list[Finding] = []
    for lid, loop in scope.loops.items():
        inside = [e for e in effs if lid in e.event.loops]
        if not any(e.kind == "step" for e in inside):
            continue
        for ev in inside:
            module = ev.recv
            if ev.kind != "eval" or not module or module not in trained:
                continue
            if _restores(inside, module):
                continue
            if any(
                e.kind == "assign"
                and lid in e.loops
                and (e.name == module or (root(module) != "self" and e.name == root(module)))
                for e in scope.events
            ):
                continue  # a fresh model per iteration starts in train mode
            out.append(
                finding(
                    "mode.eval-during-training",
                    f"`{module}.eval()` runs inside the training loop (line {loop.line}) and "
                    f"nothing in the loop calls `{module}.train()` again, so later optimizer "
                    f"steps train with dropout / batch-norm in eval mode; call `{module}.train()` "
                    "at the start of each training epoch.",
                    how="static",
                    file=rel,
                    line=ev.line,
                    detail={"module": module, "loop_line": loop.line},
                )
            )
    return out


@dataclass(slots=True)
class _ForeignCall:
    """A call, inside training loops, of a function this file does not define."""

    rel: str
    line: int
    name: str
    node: ast.Call
    trained: set[str]
    # per enclosing loop that steps an optimizer: (its line, its other mode changes and opaque
    # calls), innermost first
    loops: list[tuple[int, list[Effect]]]


def _note_eval_helper(
    ix: FileIndex, scope: Scope, rel: str, out: dict[str, list[tuple[str, list[str], list[str]]]]
) -> None:
    """Record a module-level function that leaves a module it was handed in eval mode."""
    if scope.parent is not ix.module or scope.cls is not None or not scope.params:
        return
    if not any(e.kind == "call" and e.role in {"eval", "train", "mode?"} for e in scope.events):
        return
    rebound = assigned_roots(ix, scope)  # a parameter rebound inside is no longer the caller's
    last: dict[str, str] = {}
    for recv, mode in summary(ix, scope).modes:
        if recv and root(recv) in scope.params and root(recv) not in rebound:
            last[recv] = mode
    left = [recv for recv, mode in last.items() if mode == "eval"]
    if left:
        out.setdefault(scope.name, []).append((rel, scope.params, left))


def _foreign_calls(ix: FileIndex, scope: Scope, rel: str) -> list[_ForeignCall]:
    if not scope.loops:
        return []
    calls = [
        ev
        for ev in scope.events
        if ev.kind == "call"
        and ev.loops
        and not ev.role
        and isinstance(ev.node, ast.Call)
        and isinstance(ev.node.func, ast.Name)
        and ev.node.args
        and ev.node.func.id not in _BUILTINS
        and ev.node.func.id not in ix.functions
    ]
    if not calls:
        return []
    effs = scope_effects(ix, scope)
    stepping = {lid for e in effs if e.kind == "step" for lid in e.event.loops}
    if not stepping:
        return []
    trained = trained_modules(ix) | {e.recv for e in effs if e.kind == "train" and e.recv}
    out: list[_ForeignCall] = []
    for ev in calls:
        loops = [
            (
                scope.loops[lid].line,
                [
                    e
                    for e in effs
                    if lid in e.event.loops
                    and e.event is not ev
                    and e.kind in {"train", "mode?", "opaque"}
                ],
            )
            for lid in reversed(ev.loops)
            if lid in stepping
        ]
        if loops:
            assert isinstance(ev.node, ast.Call) and isinstance(ev.node.func, ast.Name)
            out.append(_ForeignCall(rel, ev.line, ev.node.func.id, ev.node, trained, loops))
    return out


def _cross_file(
    calls: list[_ForeignCall],
    helpers: dict[str, list[tuple[str, list[str], list[str]]]],
    defined: dict[str, set[str]],
) -> list[Finding]:
    """``mode.eval-during-training`` for a training loop that calls another file's function
    which leaves the model in eval mode, with nothing in the loop putting it back."""
    out: list[Finding] = []
    for fc in calls:
        defs = [d for d in helpers.get(fc.name, []) if d[0] != fc.rel]
        if len(defs) != 1 or defined.get(fc.name, set()) - {fc.rel} != {defs[0][0]}:
            continue  # not defined elsewhere, or defined twice: which one runs is unknown
        _, params, left = defs[0]
        for recv in left:
            arg = call_argument(fc.node, params, root(recv))
            module = dotted(arg) if arg is not None else ""
            if not module or module not in fc.trained:
                continue
            unrestored = [line for line, others in fc.loops if not _restores(others, module)]
            if not unrestored:
                continue
            loop_line = unrestored[0]
            out.append(
                finding(
                    "mode.eval-during-training",
                    f"`{fc.name}` (defined in {defs[0][0]}) leaves `{module}` in eval mode, it "
                    f"is called inside the training loop (line {loop_line}) and nothing in "
                    f"the loop calls `{module}.train()` again, so later optimizer steps train "
                    f"with dropout / batch-norm in eval mode; call `{module}.train()` after it.",
                    how="static",
                    file=fc.rel,
                    line=fc.line,
                    detail={"module": module, "loop_line": loop_line, "function": fc.name},
                )
            )
            break
    return out


def _train_during_eval(ix: FileIndex, scope: Scope, rel: str) -> list[Finding]:
    if not is_eval_function(scope):
        return []
    forwards = [e for e in _forwards(ix, scope.events) if e.loops or e.no_grad or scope.no_grad]
    if not forwards:
        return []
    fw = forwards[0]
    model = fw.name
    effs = scope_effects(ix, scope)
    if any(
        e.kind in {"eval", "mode?", "step", "backward"}
        or (e.kind == "opaque" and touches(e.recv, model))
        for e in effs
    ):
        return []
    for e in effs:
        if e.kind == "train" and _covers(e.recv, model) and e.order < fw.order:
            return [_train_during_eval_finding(rel, e.line, scope.name, model, None)]
    for caller in ix.scopes:
        if caller is scope or _lightning(caller):
            continue
        for ev in caller.events:
            if ev.kind != "call" or resolve(ix, caller, ev) is not scope:
                continue
            mapped = map_name(ix, model, scope, ev)
            if _mode_at_call(ix, caller, ev, mapped) == "train":
                return [_train_during_eval_finding(rel, fw.line, scope.name, model, ev.line)]
    return []


def _mode_at_call(ix: FileIndex, caller: Scope, call: Event, module: str | None) -> str:
    """``train`` when the module is surely in train mode at the call; else ``unknown`` or
    ``eval``."""
    effs = scope_effects(ix, caller)
    before = [e for e in effs if e.order < call.order]
    verdict = _latest_mode(before, module)
    if verdict or not call.loops:
        return verdict or "unknown"
    lid = call.loops[-1]
    wrapped = [e for e in effs if e.order > call.order and lid in e.event.loops]
    return _latest_mode(wrapped, module) or "unknown"


def _latest_mode(effs: list[Effect], module: str | None) -> str:
    for e in reversed(effs):
        matches = module is None or not e.recv or _covers(e.recv, module)
        if e.kind == "eval" and matches:
            return "eval"
        if e.kind == "mode?" and matches:
            return "unknown"
        if e.kind == "opaque" and (module is None or touches(e.recv, module)):
            return "unknown"
        if e.kind == "train" and matches:
            return "train"
        if e.kind == "step":
            return "train"
    return ""


def _train_during_eval_finding(
    rel: str, line: int, function: str, model: str, caller_line: int | None
) -> Finding:
    detail: dict[str, str | int] = {"function": function, "module": model}
    if caller_line is not None:
        detail["call_line"] = caller_line
    return finding(
        "mode.train-during-eval",
        f"`{function}` runs `{model}` in training mode, so dropout stays active and batch-norm "
        f"uses and updates batch statistics during evaluation; call `{model}.eval()` before "
        "evaluating (and `.train()` before training again).",
        how="static",
        file=rel,
        line=line,
        detail=dict(detail),
    )


def _eval_data(loop: Loop) -> bool:
    if loop.iter is None:
        return False
    for node in ast.walk(loop.iter):
        word = ""
        if isinstance(node, ast.Name):
            word = node.id
        elif isinstance(node, ast.Attribute):
            word = node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            word = node.value
        if names_eval(word):
            return True
    return False


def _eval_grad_enabled(ix: FileIndex, scope: Scope, rel: str) -> list[Finding]:
    if scope.no_grad or scope.grad_managed or not scope.loops:
        return []
    eval_fn = is_eval_function(scope)
    effs = scope_effects(ix, scope)
    out: list[Finding] = []
    flagged: set[int] = set()
    for lid, loop in scope.loops.items():
        parent = loop.parent
        skip = False
        while parent is not None:
            skip = skip or parent in flagged
            parent = scope.loops[parent].parent
        if skip or loop.no_grad:
            continue
        inside = [e for e in scope.events if lid in e.loops]
        forwards = [e for e in _forwards(ix, inside) if not e.no_grad and not e.grad_managed]
        if not forwards:
            continue
        loop_effs = [e for e in effs if lid in e.event.loops]
        if any(e.kind in {"backward", "step", "zero"} for e in loop_effs):
            continue
        if any(_needs_grad(ix, scope, e) for e in inside):
            continue
        first = inside[0].order if inside else 0
        prior = [e for e in effs if e.order < first and e.kind in {"train", "eval", "mode?"}]
        after_eval = bool(prior) and prior[-1].kind == "eval"
        if not (eval_fn or _eval_data(loop) or after_eval):
            continue
        flagged.add(lid)
        model = forwards[0].name
        out.append(
            finding(
                "mode.eval-grad-enabled",
                f"This evaluation loop calls `{model}` with gradients enabled, building an "
                "autograd graph per batch that is never used (slower, more memory); wrap it in "
                "`with torch.no_grad():` or `torch.inference_mode()`.",
                how="static",
                file=rel,
                line=loop.line,
                detail={"module": model, "function": scope.name},
            )
        )
    return out


def _needs_grad(ix: FileIndex, scope: Scope, ev: Event) -> bool:
    """Whether a call in the loop needs gradients (``autograd.grad``, a helper that backprops)."""
    if ev.kind == "assign" and ev.name.endswith("requires_grad"):
        return True
    if ev.kind != "call":
        return False
    if ev.name.endswith(("autograd.grad", "requires_grad_")) or "backward" in ev.name:
        return True
    callee = resolve(ix, scope, ev)
    return callee is not None and callee is not scope and summary(ix, callee).grad


__all__ = ["ModeRule", "is_eval_function"]
