"""What a name refers to, followed through assignments, function parameters and call sites.

One small shared layer that rules ask instead of guessing from names: the expression a variable
was last given (``value_of``), the class a model variable is built from (``class_of``), what each
call site passes for a function's parameter (``param_values``: which function a ``train=False``
flag reaches), and which variable a loop walks in its callers' terms (``loader_of``). Within a file
it follows plain assignments and the calls :func:`_flow.resolve` can tell for sure; across files it
hands back the imported name (``imported_from``) for a rule to match in ``finish``. Every answer is
memoized on the file's index, so asking costs a dictionary look-up after the first time.
"""

from __future__ import annotations

import ast

from dlpilot.tools.inspect.code._names import dotted, unwrap_device
from dlpilot.tools.inspect.code.training._flow import call_argument, resolve
from dlpilot.tools.inspect.code.training._index import Event, FileIndex, Loop, Scope

_MAX_HOPS = 3  # parameter -> caller hops followed; training code rarely passes a model deeper


def call_sites(ix: FileIndex, callee: Scope) -> list[tuple[Scope, Event]]:
    """Every call in the file that surely reaches ``callee``: (caller scope, call event)."""
    cached = ix.memo.get(("call_sites", 0))
    table: dict[int, list[tuple[Scope, Event]]]
    if isinstance(cached, dict):
        table = cached
    else:
        table = {}
        for scope in ix.scopes:
            for ev in scope.events:
                if ev.kind == "call":
                    target = resolve(ix, scope, ev)
                    if target is not None:
                        table.setdefault(id(target), []).append((scope, ev))
        ix.memo[("call_sites", 0)] = table
    found = table.get(id(callee), [])
    return list(found)


def value_of(ix: FileIndex, scope: Scope, name: str, before: int | None = None) -> ast.expr | None:
    """The expression last assigned to ``name`` in ``scope`` (before event order ``before``),
    falling back to the enclosing scopes (a script's module-level names)."""
    s: Scope | None = scope
    while s is not None:
        found: ast.expr | None = None
        for ev in s.events:
            if before is not None and s is scope and ev.order >= before:
                break
            if ev.kind == "assign" and ev.name == name and isinstance(ev.node, ast.expr):
                found = ev.node
        if found is not None:
            return found
        s = s.parent
    return None


def param_values(ix: FileIndex, scope: Scope, param: str) -> list[tuple[Scope, Event, ast.expr]]:
    """What each call site of ``scope`` passes for ``param`` (the default when it passes none)."""
    if param not in scope.params:
        return []
    default = _default(ix, scope, param)
    out: list[tuple[Scope, Event, ast.expr]] = []
    for caller, ev in call_sites(ix, scope):
        assert isinstance(ev.node, ast.Call)
        arg = call_argument(ev.node, scope.params, param)
        if arg is None:
            arg = default
        if arg is not None:
            out.append((caller, ev, arg))
    return out


def _default(ix: FileIndex, scope: Scope, param: str) -> ast.expr | None:
    defaults = ix.memo.get(("defaults", id(scope)))
    if not isinstance(defaults, dict):
        return None  # note_defaults was not called for this file
    value = defaults.get(param)
    return value if isinstance(value, ast.expr) else None


def note_defaults(ix: FileIndex, tree: ast.Module) -> None:
    """Record every function's parameter defaults on its scope (once per file)."""
    if ("defaults_noted", 0) in ix.memo:
        return
    ix.memo[("defaults_noted", 0)] = True
    by_line: dict[tuple[str, int], Scope] = {(s.name, s.line): s for s in ix.scopes}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        scope = by_line.get((node.name, node.lineno))
        if scope is None:
            continue
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        table: dict[str, ast.expr] = {}
        for a, d in zip(
            positional[len(positional) - len(args.defaults) :], args.defaults, strict=True
        ):
            table[a.arg] = d
        for a, kd in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if kd is not None:
                table[a.arg] = kd
        ix.memo[("defaults", id(scope))] = table


def class_of(ix: FileIndex, scope: Scope, name: str, hops: int = 0) -> str:
    """The class a variable is built from (``model = Net().to(dev)`` -> ``Net``), followed
    through function parameters to what every caller passes; "" when unknown or when callers
    disagree."""
    key = (f"class_of:{name}", id(scope))
    cached = ix.memo.get(key)
    if isinstance(cached, str):
        return cached
    ix.memo[key] = ""  # breaks recursion cycles
    out = ""
    value = value_of(ix, scope, name)
    if value is not None:
        out = _class_of_expr(ix, scope, value, hops)
    elif name in scope.params and hops < _MAX_HOPS:
        found = {
            _class_of_expr(ix, caller, arg, hops + 1)
            for caller, _ev, arg in param_values(ix, scope, name)
        }
        if len(found) == 1:
            out = found.pop()
    ix.memo[key] = out
    return out


def _class_of_expr(ix: FileIndex, scope: Scope, expr: ast.expr, hops: int) -> str:
    expr = unwrap_device(expr)
    if isinstance(expr, ast.Call):
        called = dotted(expr.func)
        tail = called.rsplit(".", 1)[-1]
        return tail if tail[:1].isupper() else ""
    name = dotted(expr)
    if name and hops < _MAX_HOPS:
        return class_of(ix, scope, name, hops + 1)
    return ""


def loader_of(ix: FileIndex, scope: Scope, loop: Loop) -> list[str]:
    """The variables a loop walks, in its callers' terms: ``for x, y in tqdm(loader)`` inside
    ``run_epoch(loader)`` called as ``run_epoch(val_loader)`` -> ``["val_loader"]``."""
    it = loop.iter
    while isinstance(it, ast.Call) and it.args and not dotted(it.func).endswith("range"):
        it = it.args[0]  # enumerate(loader), tqdm(loader), zip(loader, ...)
    name = dotted(it) if it is not None else ""
    if not name:
        return []
    if name in scope.params:
        out = [dotted(arg) for _c, _e, arg in param_values(ix, scope, name)]
        return [n for n in out if n]
    return [name]


def imported_from(tree: ast.Module) -> dict[str, str]:
    """Names a module imports from other modules: local name -> the imported name."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                out[alias.asname or alias.name] = alias.name
    return out


__all__ = [
    "call_sites",
    "class_of",
    "imported_from",
    "loader_of",
    "note_defaults",
    "param_values",
    "value_of",
]
