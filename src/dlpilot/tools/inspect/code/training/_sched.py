"""A learning-rate schedule that does something else than its arguments say.

Two ways static code shows it: an epoch-based scheduler (its step size, milestones or period
measured in epochs) whose ``step()`` sits in the batch loop, so the rate decays within the first
epoch; and a warm-up ``LambdaLR`` whose factor keeps climbing past 1 (the division by the warm-up
length forgotten), so the rate ends many times the configured one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Rule, SourceFile
from dlpilot.tools.inspect.code._names import call_attr, dotted, last
from dlpilot.tools.inspect.code.training._flow import resolve, summary
from dlpilot.tools.inspect.code.training._index import Event, FileIndex, Loop, Scope, index_of
from dlpilot.tools.inspect.code.training._lightning import stepped_per_batch, string_constants
from dlpilot.tools.inspect.code.training._resolve import param_values, value_of

# scheduler -> the argument measured in epochs (name, position after the optimizer)
_EPOCH_ARGS: dict[str, tuple[str, int]] = {
    "StepLR": ("step_size", 1),
    "MultiStepLR": ("milestones", 1),
    "CosineAnnealingLR": ("T_max", 1),
    "CosineAnnealingWarmRestarts": ("T_0", 1),
    "ExponentialLR": ("gamma", 1),
}
_EPOCH_SIZED = 50
"""A period of at most this many steps reads as epochs: nobody decays the rate every 4 batches."""
_FAST_GAMMA = 0.99
"""A per-batch ExponentialLR factor at or below this loses 99% of the rate in ~460 batches."""
_STEP_WORDS = ("step", "iter", "batch", "len(", "total", "updates")


def _arg(call: ast.Call, name: str, pos: int) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return call.args[pos] if len(call.args) > pos else None


def _number(expr: ast.expr) -> float | None:
    value = expr.value if isinstance(expr, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _epoch_measured(ix: FileIndex, scope: Scope, sched: str, expr: ast.expr, at: int) -> str:
    """Why ``expr`` reads as a count of epochs ("" when it does not)."""
    if isinstance(expr, ast.Name | ast.Attribute):
        value = value_of(ix, scope, dotted(expr), at)
        if value is not None and not isinstance(value, ast.Name | ast.Attribute):
            why = _epoch_measured(ix, scope, sched, value, at)
            return f"{dotted(expr)} = {why}" if why else ""
    if isinstance(expr, ast.Subscript):
        entry = _config_entry(ix, scope, expr, at)
        if entry is not None:
            why = _epoch_text(sched, entry)
            return f"{ast.unparse(expr)} = {why}" if why else ""
    return _epoch_text(sched, expr)


def _config_entry(ix: FileIndex, scope: Scope, expr: ast.Subscript, at: int) -> ast.expr | None:
    """The value a config dict holds under a constant key (``cfg["step_size"]``), the dict found
    as a parameter's argument at every call site (one value only) or as a name's assignment
    (the enclosing scopes')."""
    key = expr.slice
    if not isinstance(expr.value, ast.Name) or not isinstance(key, ast.Constant):
        return None
    base = expr.value.id
    dicts = [v for _, _, v in param_values(ix, scope, base)] if base in scope.params else []
    if not dicts:
        # a local, a module-level dict, or a parameter whose call sites cannot be told (a class
        # constructed with the module's config of the same name)
        found = value_of(ix, scope, base, at)
        dicts = [found] if found is not None else []
    values: list[ast.expr] = []
    for d in dicts:
        if isinstance(d, ast.Name):
            d = value_of(ix, ix.scopes[0], d.id) or d
        if not isinstance(d, ast.Dict):
            return None
        for k, v in zip(d.keys, d.values, strict=True):
            if isinstance(k, ast.Constant) and k.value == key.value:
                values.append(v)
    texts = {ast.unparse(v) for v in values}
    return values[0] if len(texts) == 1 else None


def _batch_loop(ix: FileIndex, scope: Scope, ev: Event) -> Loop | None:
    """The loop a call sits in when that loop walks batches and steps an optimizer (itself, or
    through a function it calls that surely steps one: ``self.train_step(xb, yb)``)."""
    if not ev.loops:
        return None
    loop = scope.loops[ev.loops[-1]]
    steps = [
        e
        for e in scope.events
        if e.kind == "call"
        and loop.id in e.loops
        and (e.role == "step" or _steps_inside(ix, scope, e))
    ]
    # a scheduler step under a test the optimizer step is not under (``if i == len(loader) -
    # 1:``) runs on some batches only: how often it runs cannot be told from where it sits
    if not any(ev.branch == s.branch or s.branch[: len(ev.branch)] == ev.branch for s in steps):
        return None
    it = loop.iter
    walks_data = it is not None and not (
        isinstance(it, ast.Call) and dotted(it.func) == "range" and loop.parent is None
    )
    return loop if walks_data or loop.parent is not None else None


def _steps_inside(ix: FileIndex, scope: Scope, ev: Event) -> bool:
    callee = resolve(ix, scope, ev) if not ev.role else None
    return callee is not None and callee is not scope and summary(ix, callee).step


class ScheduleMismatchRule(Rule):
    """Epoch-measured schedulers stepped per batch, and warm-up factors that pass 1."""

    ids: ClassVar[tuple[str, ...]] = ("lr.schedule-mismatch",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "LR(" not in text and "WarmRestarts(" not in text:
            return []
        out: list[Finding] = []
        ix = index_of(f) if ".step(" in text else None
        if ix is not None:
            out.extend(self._per_batch(ix, f.rel))
        if "LambdaLR" in text:
            out.extend(_climbing_lambdas(f))
        if "interval" in text and "configure_optimizers" in text:
            out.extend(_lightning_per_step(f))
        return out

    def _per_batch(self, ix: FileIndex, rel: str) -> list[Finding]:
        built: dict[str, tuple[Scope, Event, ast.Call]] = {}
        for scope in ix.scopes:
            for ev in scope.events:
                node = ev.node
                is_built = isinstance(node, ast.Call) and call_attr(node) in _EPOCH_ARGS
                if ev.kind == "assign" and is_built and isinstance(node, ast.Call):
                    built[last(ev.name)] = (scope, ev, node)
        if not built:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            for ev in scope.events:
                if ev.kind != "call" or ev.role != "sched_step" or last(ev.recv) not in built:
                    continue
                loop = _batch_loop(ix, scope, ev)
                if loop is None:
                    continue
                bscope, bev, call = built[last(ev.recv)]
                kind = call_attr(call)
                arg_name, pos = _EPOCH_ARGS[kind]
                arg = _arg(call, arg_name, pos)
                why = _epoch_measured(ix, bscope, kind, arg, bev.order) if arg is not None else ""
                if not why:
                    continue
                out.append(
                    finding(
                        "lr.schedule-mismatch",
                        f"`{ev.recv}.step()` runs once per batch (loop at line {loop.line}) but "
                        f"`{kind}` is built with {arg_name} measured in epochs ({why}), so the "
                        "rate decays within the first epoch and training crawls after it; step "
                        "it once per epoch, or size it in batches (e.g. epochs * len(loader)).",
                        how="static",
                        file=rel,
                        line=ev.line,
                        detail={"scheduler": kind, "built_line": bev.line, "loop_line": loop.line},
                    )
                )
        return out


def _mentions(expr: ast.expr, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(expr))


def _large(expr: ast.expr, param: str) -> bool:
    """Whether ``expr`` may well be above 1: it grows with ``param``, is a plain name (a step
    count such as ``warmup``) or a constant above 1."""
    if _grows(expr, param):
        return True
    if isinstance(expr, ast.Name | ast.Attribute):
        return True
    n = _number(expr)
    return n is not None and n > 1


def _lightning_per_step(f: SourceFile) -> list[Finding]:
    """``configure_optimizers`` returning ``{"scheduler": StepLR(opt, 4), "interval": "step"}``:
    Lightning then steps the epoch-measured scheduler after every batch."""
    out: list[Finding] = []
    constants = string_constants(f.tree) if "configure_optimizers" in f.text else {}
    for fn in ast.walk(f.tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name != "configure_optimizers":
            continue
        built: dict[str, ast.Call] = {}
        for node in ast.walk(fn):
            value = node.value if isinstance(node, ast.Assign) else None
            if isinstance(node, ast.Assign) and isinstance(value, ast.Call):
                for t in node.targets:
                    built[dotted(t)] = value
        for node in ast.walk(fn):
            if not isinstance(node, ast.Dict):
                continue
            entries = {
                k.value: v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
            interval = entries.get("interval")
            sched = entries.get("scheduler")
            if "scheduler" not in entries or not stepped_per_batch(
                interval, constants, entries.get("frequency")
            ):
                continue
            if isinstance(sched, ast.Name | ast.Attribute):
                sched = built.get(dotted(sched))
            if not isinstance(sched, ast.Call) or call_attr(sched) not in _EPOCH_ARGS:
                continue
            kind = call_attr(sched)
            arg = _arg(sched, *_EPOCH_ARGS[kind])
            why = _epoch_text(kind, arg) if arg is not None else ""
            if why:
                out.append(
                    finding(
                        "lr.schedule-mismatch",
                        f"`configure_optimizers` asks Lightning to step `{kind}` every batch "
                        f'(`"interval": "step"`) but sizes it in epochs ({why}), so the '
                        'rate decays within the first epoch; use `"interval": "epoch"` or '
                        "size it in steps (`self.trainer.estimated_stepping_batches`).",
                        how="static",
                        file=f.rel,
                        line=node.lineno,
                        detail={"scheduler": kind},
                    )
                )
    return out


def _epoch_text(sched: str, expr: ast.expr) -> str:
    """Like :func:`_epoch_measured`, from the expression alone (no index to follow names)."""
    text = ast.unparse(expr)
    low = text.lower()
    if any(w in low for w in _STEP_WORDS):
        return ""
    if sched == "ExponentialLR":
        gamma = _number(expr)
        return f"gamma={text}" if gamma is not None and gamma <= _FAST_GAMMA else ""
    if "epoch" in low:
        return text
    if isinstance(expr, ast.List | ast.Tuple):
        nums = [_number(e) for e in expr.elts]
        ok = nums and all(n is not None and n <= _EPOCH_SIZED * 4 for n in nums)
        return text if ok else ""
    n = _number(expr)
    return text if n is not None and n <= _EPOCH_SIZED else ""


def _grows(expr: ast.expr, param: str, guarded: bool = False) -> bool:
    """Whether ``expr`` keeps growing with ``param`` past 1. ``guarded``: it only applies while
    a test on ``param`` holds (``s / warmup if s < warmup else 1.0``)."""
    if isinstance(expr, ast.Name):
        return expr.id == param
    if isinstance(expr, ast.BinOp):
        if isinstance(expr.op, ast.Add | ast.Mult):
            return _grows(expr.left, param, guarded) or _grows(expr.right, param, guarded)
        if isinstance(expr.op, ast.Div):
            # s / warmup passes 1 after warm-up unless capped; s / total_steps never does
            den = ast.unparse(expr.right)
            left = expr.left
            if guarded or (
                isinstance(left, ast.Call)
                and call_attr(left) == "min"
                and any(ast.unparse(a) == den for a in left.args)
            ):
                return False
            return _grows(left, param) and "warm" in den.lower()
        return False
    if isinstance(expr, ast.Call) and call_attr(expr) == "min" and expr.args:
        return any(_grows(a, param, guarded) for a in expr.args) and all(
            _large(a, param) for a in expr.args
        )
    if isinstance(expr, ast.Call) and call_attr(expr) == "float" and expr.args:
        return _grows(expr.args[0], param, guarded)
    if isinstance(expr, ast.IfExp):
        guard = guarded or _mentions(expr.test, param)
        return _grows(expr.body, param, guard) or _grows(expr.orelse, param, guard)
    return False


def _returns(fn: ast.FunctionDef, param: str) -> list[tuple[ast.expr, bool]]:
    """Each returned expression, and whether a test on ``param`` guards it."""
    out: list[tuple[ast.expr, bool]] = []

    def walk(stmts: list[ast.stmt], guarded: bool) -> None:
        for st in stmts:
            if isinstance(st, ast.Return) and st.value is not None:
                out.append((st.value, guarded))
            elif isinstance(st, ast.If):
                g = guarded or _mentions(st.test, param)
                walk(st.body, g)
                walk(st.orelse, g)
            elif isinstance(st, ast.For | ast.While | ast.With | ast.Try):
                walk(st.body, guarded)

    walk(fn.body, False)
    return out


def _climbing_lambdas(f: SourceFile) -> list[Finding]:
    functions = {n.name: n for n in f.tree.body if isinstance(n, ast.FunctionDef) and n.args.args}
    out: list[Finding] = []
    for node in ast.walk(f.tree):
        if not isinstance(node, ast.Call) or call_attr(node) != "LambdaLR":
            continue
        fn = _arg(node, "lr_lambda", 1)
        bodies: list[tuple[ast.expr, bool]] = []
        param = ""
        if isinstance(fn, ast.Lambda) and fn.args.args:
            param, bodies = fn.args.args[0].arg, [(fn.body, False)]
        elif isinstance(fn, ast.Name) and fn.id in functions:
            d = functions[fn.id]
            param = d.args.args[0].arg
            bodies = _returns(d, param)
        grows = [b for b, guarded in bodies if _grows(b, param, guarded)]
        if not grows:
            continue
        out.append(
            finding(
                "lr.schedule-mismatch",
                f"The `LambdaLR` factor `{ast.unparse(grows[0])}` keeps growing with `{param}` "
                "past 1, so the rate climbs to many times the configured one instead of "
                "warming up to it; divide by the warm-up length and cap it, e.g. "
                f"`min(1.0, ({param} + 1) / warmup_steps)`.",
                how="static",
                file=f.rel,
                line=node.lineno,
                detail={"factor": ast.unparse(grows[0])},
            )
        )
    return out


__all__ = ["ScheduleMismatchRule"]
