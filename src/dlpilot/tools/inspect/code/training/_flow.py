"""Flow within a file: which function a call reaches, what a function does to modules and
optimizers (its summary, in the caller's names), and where a variable was last assigned.

Only calls that can be resolved for sure are followed: ``helper(...)`` when one function of that
name is defined in the file, and ``self.method(...)``. Anything else is *opaque*; rules treat an
opaque call that is handed the model as "it may have changed the mode" and stay silent.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from dlpilot.tools.inspect.code._names import (
    call_attr,
    dotted,
    is_model_name,
    is_optimizer_class,
    is_optimizer_name,
    last,
    root,
    unwrap_device,
)
from dlpilot.tools.inspect.code.training._index import ClassInfo, Event, FileIndex, Scope

_MAX_DEPTH = 3  # how deep summaries follow calls; deeper helpers are rare in training scripts
MODE_ROLES = frozenset({"train", "eval", "mode?"})
# Methods of a module that never change its train / eval mode.
_MODE_NEUTRAL = frozenset(
    {
        "parameters",
        "named_parameters",
        "buffers",
        "named_buffers",
        "modules",
        "named_modules",
        "children",
        "named_children",
        "state_dict",
        "load_state_dict",
        "to",
        "cuda",
        "cpu",
        "half",
        "float",
        "double",
        "zero_grad",
        "forward",
        "requires_grad_",
        "register_forward_hook",
        "apply",
        "__call__",
    }
)


@dataclass(eq=False)
class Summary:
    """What running a function does, in that function's own names."""

    modes: list[tuple[str, str]] = field(default_factory=list)  # (module, train|eval|mode?)
    step: bool = False
    backward: bool = False
    zero: bool = False
    grad: bool = False  # torch.autograd.grad or backward: the function needs gradients


@dataclass(slots=True)
class Effect:
    """A thing that happens at a point of a scope, with names in that scope's terms."""

    order: int
    line: int
    kind: str  # train | eval | mode? | step | backward | zero | opaque
    recv: str  # module / optimizer ("" when unknown); for opaque: the roots handed to the call
    event: Event


def enclosing_class(scope: Scope) -> ClassInfo | None:
    s: Scope | None = scope
    while s is not None:
        if s.cls is not None:
            return s.cls
        s = s.parent
    return None


def _find_method(ix: FileIndex, cls: ClassInfo, name: str, depth: int = 0) -> Scope | None:
    if name in cls.methods:
        return cls.methods[name]
    if depth >= _MAX_DEPTH:
        return None
    for base in cls.bases:
        for parent in ix.classes.get(base.rsplit(".", 1)[-1], []):
            found = _find_method(ix, parent, name, depth + 1)
            if found is not None:
                return found
    return None


def resolve(ix: FileIndex, scope: Scope, ev: Event) -> Scope | None:
    """The function a call event surely reaches, or None."""
    call = ev.node
    if not isinstance(call, ast.Call):
        return None
    func = call.func
    if isinstance(func, ast.Name):
        found = ix.functions.get(func.id, [])
        return found[0] if len(found) == 1 else None
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    ):
        cls = enclosing_class(scope)
        if cls is not None:
            return _find_method(ix, cls, func.attr)
        found = ix.methods.get(func.attr, [])
        return found[0] if len(found) == 1 else None
    return None


def call_argument(call: ast.Call, params: list[str], param: str) -> ast.expr | None:
    """The expression a call passes for the callee's parameter ``param``, if it can be told."""
    idx = params.index(param)
    arg: ast.expr | None = None
    if idx < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[:idx]):
        arg = call.args[idx]
    for kw in call.keywords:
        if kw.arg == param:
            arg = kw.value
    return arg


def assigned_roots(ix: FileIndex, scope: Scope) -> set[str]:
    """Plain names a function assigns to (its locals, and parameters it rebinds)."""
    key = ("assigned_roots", id(scope))
    cached = ix.memo.get(key)
    if isinstance(cached, set):
        return cached
    roots = {e.name for e in scope.events if e.kind == "assign" and "." not in e.name}
    ix.memo[key] = roots
    return roots


def map_name(ix: FileIndex, name: str, callee: Scope, call: Event) -> str | None:
    """A name of the callee's, in the caller's terms at this call; None when it cannot be told."""
    if not name:
        return None
    node = call.node
    assert isinstance(node, ast.Call)
    first = root(name)
    rest = name[len(first) :]
    if first == "self":
        func = node.func
        owner = dotted(func.value) if isinstance(func, ast.Attribute) else ""
        return name if owner == "self" else None
    if first in callee.params:
        if first in assigned_roots(ix, callee):
            return None
        arg = call_argument(node, callee.params, first)
        text = dotted(arg) if arg is not None else ""
        return text + rest if text else None
    if first in assigned_roots(ix, callee):
        return None  # a local of the callee
    return name


def summary(ix: FileIndex, scope: Scope, depth: int = 0) -> Summary:
    key = ("summary", id(scope))
    cached = ix.memo.get(key)
    if isinstance(cached, Summary):
        return cached
    out = Summary()
    ix.memo[key] = out  # a placeholder breaks recursion cycles
    for eff in effects(ix, scope, scope.events, depth):
        if eff.kind in MODE_ROLES:
            out.modes.append((eff.recv, eff.kind))
        elif eff.kind == "step":
            out.step = True
        elif eff.kind == "backward":
            out.backward = out.grad = True
        elif eff.kind == "zero":
            out.zero = True
    for ev in scope.events:
        if ev.kind == "call" and ev.name.endswith("autograd.grad"):
            out.grad = True
    return out


def optimizer_names(ix: FileIndex) -> dict[str, set[str]]:
    """Names assigned an optimizer in the file (full and last component) -> the modules whose
    ``.parameters()`` it was given."""
    key = ("optimizers", 0)
    cached = ix.memo.get(key)
    if isinstance(cached, dict):
        return cached
    out: dict[str, set[str]] = {}
    for scope in ix.scopes:
        for ev in scope.events:
            if ev.kind != "assign" or not isinstance(ev.node, ast.Call):
                continue
            call = ev.node
            if not is_optimizer_class(call):
                continue
            models: set[str] = set()
            for sub in ast.walk(call):
                if (
                    isinstance(sub, ast.Call)
                    and call_attr(sub) in {"parameters", "named_parameters"}
                    and isinstance(sub.func, ast.Attribute)
                ):
                    owner = dotted(sub.func.value)
                    if owner:
                        models.add(owner)
            for name in (ev.name, last(ev.name)):
                out.setdefault(name, set()).update(models)
    ix.memo[key] = out
    return out


def scope_effects(ix: FileIndex, scope: Scope) -> list[Effect]:
    """The effects of a whole scope's events, computed once per scope however many rules ask."""
    key = ("effects", id(scope))
    cached = ix.memo.get(key)
    if isinstance(cached, list):
        return cached
    found = effects(ix, scope, scope.events)
    ix.memo[key] = found
    return found


def is_optimizer(ix: FileIndex, name: str) -> bool:
    return is_optimizer_name(name, frozenset(optimizer_names(ix)))


def effects(ix: FileIndex, scope: Scope, events: list[Event], depth: int = 0) -> list[Effect]:
    """Mode changes, steps, backward passes, gradient clearing and opaque calls among ``events``,
    following resolvable calls (their effects are placed at the call, in this scope's names)."""
    out: list[Effect] = []
    for ev in events:
        if ev.kind != "call":
            continue
        callee = resolve(ix, scope, ev) if ev.role in {"", "train", "eval"} else None
        if callee is not None and callee is not scope and depth < _MAX_DEPTH:
            sub = summary(ix, callee, depth + 1)
            for recv, mode in sub.modes:
                mapped = map_name(ix, recv, callee, ev)
                out.append(Effect(ev.order, ev.line, mode if mapped else "mode?", mapped or "", ev))
            if sub.step:
                out.append(Effect(ev.order, ev.line, "step", "", ev))
            if sub.backward:
                out.append(Effect(ev.order, ev.line, "backward", "", ev))
            if sub.zero:
                out.append(Effect(ev.order, ev.line, "zero", "", ev))
            continue
        if callee is not None:
            continue
        if ev.role in MODE_ROLES:
            out.append(Effect(ev.order, ev.line, ev.role, ev.recv, ev))
        elif ev.role == "step" and (ev.extra == "scaler" or is_optimizer(ix, ev.recv)):
            out.append(Effect(ev.order, ev.line, "step", ev.recv, ev))
        elif ev.role == "backward":
            out.append(Effect(ev.order, ev.line, "backward", ev.recv, ev))
        elif ev.role == "zero" or "zero_grad" in ev.name:
            out.append(Effect(ev.order, ev.line, "zero", ev.recv, ev))
        elif ev.role == "":
            handed = _handed_roots(ev)
            if handed:
                out.append(Effect(ev.order, ev.line, "opaque", " ".join(sorted(handed)), ev))
    return out


def _handed_roots(ev: Event) -> set[str]:
    """Names an unresolved call could change the mode of: its plain arguments, and its receiver
    when the method is not known to keep the mode."""
    call = ev.node
    assert isinstance(call, ast.Call)
    names: set[str] = set()
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        if isinstance(arg, ast.Starred):
            arg = arg.value
        text = dotted(arg)
        if text:
            names.add(text)
    func = call.func
    if is_model_name(dotted(func)):
        return names  # a forward call: it does not change modes
    if isinstance(func, ast.Attribute) and func.attr not in _MODE_NEUTRAL:
        owner = dotted(func.value)
        if owner:
            names.add(owner)
    return names


def touches(handed: str, module: str) -> bool:
    """Whether an opaque call handed these names could reach ``module``."""
    for name in handed.split():
        if name == module or module.startswith(name + ".") or name.startswith(module + "."):
            return True
    return False


def assigns(ix: FileIndex, scope: Scope) -> dict[str, list[Event]]:
    key = ("assigns", id(scope))
    cached = ix.memo.get(key)
    if isinstance(cached, dict):
        return cached
    out: dict[str, list[Event]] = {}
    for ev in scope.events:
        if ev.kind == "assign":
            out.setdefault(ev.name, []).append(ev)
    ix.memo[key] = out
    return out


def branch_compatible(a: Event, b: Event) -> bool:
    """False when the two events sit in different arms of one ``if`` / ``try``."""
    for x, y in zip(a.branch, b.branch, strict=False):
        if x != y:
            return x[0] != y[0]
    return True


def dominates(a: Event, b: Event) -> bool:
    """Whether ``a``'s branch path is a prefix of ``b``'s (``a`` runs whenever ``b`` runs)."""
    return b.branch[: len(a.branch)] == a.branch


def latest_assign(ix: FileIndex, scope: Scope, name: str, before: Event) -> Event | None:
    """The last assignment to ``name`` before ``before`` in the scope, when it surely reaches it."""
    found: Event | None = None
    for ev in assigns(ix, scope).get(name, []):
        if ev.order < before.order:
            found = ev
    if found is None or not dominates(found, before):
        return None
    return found


def module_names(ix: FileIndex) -> set[str]:
    """Names the file treats as modules: mode set, parameters read, state saved or loaded."""
    key = ("modules", 0)
    cached = ix.memo.get(key)
    if isinstance(cached, set):
        return cached
    out: set[str] = set()
    for scope in ix.scopes:
        for ev in scope.events:
            if ev.kind == "call" and ev.role in MODE_ROLES and ev.recv:
                out.add(ev.recv)
            elif ev.kind == "call" and isinstance(ev.node, ast.Call):
                func = ev.node.func
                if isinstance(func, ast.Attribute) and func.attr in {
                    "parameters",
                    "named_parameters",
                    "load_state_dict",
                }:
                    owner = dotted(func.value)
                    if owner and not is_optimizer_name(owner):
                        out.add(owner)
            elif ev.kind == "assign" and isinstance(ev.node, ast.Call):
                made = unwrap_device(ev.node)
                if isinstance(made, ast.Call) and (
                    call_attr(made) in {"Sequential", "from_pretrained"}
                    or (call_attr(made) in ix.classes and _is_module_class(ix, call_attr(made)))
                ):
                    out.add(ev.name)
    ix.memo[key] = out
    return out


def _is_module_class(ix: FileIndex, name: str) -> bool:
    return any(c.looks_like_module() for c in ix.classes.get(name, []))


def trained_modules(ix: FileIndex) -> set[str]:
    """Modules the file trains: put in train mode, or given to an optimizer."""
    key = ("trained", 0)
    cached = ix.memo.get(key)
    if isinstance(cached, set):
        return cached
    out: set[str] = set()
    for scope in ix.scopes:
        for ev in scope.events:
            if ev.kind == "call" and ev.role == "train" and ev.recv:
                out.add(ev.recv)
    for models in optimizer_names(ix).values():
        out.update(models)
    ix.memo[key] = out
    return out


__all__ = [
    "MODE_ROLES",
    "Effect",
    "Summary",
    "assigned_roots",
    "assigns",
    "branch_compatible",
    "call_argument",
    "dominates",
    "effects",
    "enclosing_class",
    "is_optimizer",
    "latest_assign",
    "map_name",
    "module_names",
    "optimizer_names",
    "resolve",
    "scope_effects",
    "summary",
    "touches",
    "trained_modules",
]
