"""Rules on the order of a training step's parts: clipping before ``backward()``, an optimizer
step dedented out of the batch loop, and a shared epoch function that still steps when called
for validation."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Rule, SourceFile
from dlpilot.tools.inspect.code._names import call_attr, const_bool, dotted, last, names_eval
from dlpilot.tools.inspect.code.training._flow import optimizer_names, resolve, summary
from dlpilot.tools.inspect.code.training._index import Event, FileIndex, Scope, index_of
from dlpilot.tools.inspect.code.training._resolve import note_defaults, param_values

_CLIP = frozenset({"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grad_value"})
_FLAGS = frozenset(
    {"train", "training", "is_train", "is_training", "train_mode", "do_train", "backprop"}
)
_PHASES = frozenset({"phase", "mode", "split", "stage"})


def _calls(scope: Scope, role: str) -> list[Event]:
    return [e for e in scope.events if e.kind == "call" and e.role == role]


def _within(ev: Event, loops: tuple[int, ...]) -> bool:
    return ev.loops[: len(loops)] == loops


class ClipOrderRule(Rule):
    """Gradient clipping that runs before ``backward()`` in the same step clips the previous
    step's (already cleared) gradients, so nothing is clipped."""

    ids: ClassVar[tuple[str, ...]] = ("loop.clip-before-backward",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        if "clip_grad" not in f.text or "backward(" not in f.text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            clips = [
                e
                for e in scope.events
                if e.kind == "call" and isinstance(e.node, ast.Call) and call_attr(e.node) in _CLIP
            ]
            for clip in clips:
                found = _clip_before(scope, clip, clips)
                if found is not None:
                    out.append(_clip_finding(f.rel, clip, *found))
                    continue
                late = _clip_after_step(scope, clip, clips)
                if late is not None:
                    out.append(_clip_late_finding(f.rel, clip, late))
        return out


def _clip_before(scope: Scope, clip: Event, clips: list[Event]) -> tuple[Event, Event] | None:
    """(backward, step) when ``clip`` runs before the step's backward and none runs after it."""
    same = [e for e in scope.events if _within(e, clip.loops)]
    backs = [e for e in same if e.kind == "call" and e.role == "backward"]
    if any(b.order < clip.order for b in backs):
        return None  # a backward precedes the clip in the same step: it clips real gradients
    after = [b for b in backs if b.order > clip.order]
    if not after:
        return None
    back = after[0]
    steps = [e for e in same if e.kind == "call" and e.role == "step" and e.order > back.order]
    if not steps:
        return None
    step = steps[0]
    if any(back.order < c.order < step.order for c in clips):
        return None
    return back, step


def _clip_after_step(scope: Scope, clip: Event, clips: list[Event]) -> Event | None:
    """The step when ``clip`` runs after the loop's ``optimizer.step()`` with no backward or
    step after it in the loop body, and no clip between the backward and that step: it clips
    gradients already used, which the next iteration clears."""
    if not clip.loops or not isinstance(clip.node, ast.Call):
        return None
    limits = [*clip.node.args[1:2], *(k.value for k in clip.node.keywords)]
    if any("inf" in ast.unparse(a) for a in limits):
        return None  # an infinite bound measures the norm (for logging); it clips nothing
    same = [e for e in scope.events if _within(e, clip.loops)]
    backs = [e for e in same if e.kind == "call" and e.role == "backward"]
    steps = [e for e in same if e.kind == "call" and e.role == "step" and e.extra != "scaler"]
    earlier = [s for s in steps if s.order < clip.order]
    if not earlier or any(s.order > clip.order for s in steps):
        return None
    step = earlier[-1]
    if any(b.order > step.order for b in backs):
        return None  # a backward after the step (and before or after the clip): not this case
    fed = [b for b in backs if b.order < step.order]
    if not fed or any(fed[-1].order < c.order < step.order for c in clips):
        return None
    return step


def _clip_late_finding(rel: str, clip: Event, step: Event) -> Finding:
    name = call_attr(clip.node) if isinstance(clip.node, ast.Call) else "clip_grad_norm_"
    return finding(
        "loop.clip-before-backward",
        f"`{name}` runs after `optimizer.step()` (line {step.line}), on gradients the step "
        "already used and the next iteration clears, so no step is ever clipped; clip after "
        "`backward()` and before `optimizer.step()` (after `scaler.unscale_(optimizer)` with "
        "AMP).",
        how="static",
        file=rel,
        line=clip.line,
        detail={"step_line": step.line},
    )


def _clip_finding(rel: str, clip: Event, back: Event, step: Event) -> Finding:
    name = call_attr(clip.node) if isinstance(clip.node, ast.Call) else "clip_grad_norm_"
    return finding(
        "loop.clip-before-backward",
        f"`{name}` runs before `backward()` (line {back.line}), when the gradients are still "
        f"the cleared ones of the previous step, so the step at line {step.line} is never "
        "clipped; clip after `backward()` and before `optimizer.step()` (after "
        "`scaler.unscale_(optimizer)` with AMP).",
        how="static",
        file=rel,
        line=clip.line,
        detail={"backward_line": back.line, "step_line": step.line},
    )


class StepPerEpochRule(Rule):
    """``optimizer.step()`` dedented out of the batch loop while ``zero_grad()`` and
    ``backward()`` stay inside: every batch's gradient but the last is cleared unused."""

    ids: ClassVar[tuple[str, ...]] = ("loop.zero-grad-misplaced",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if "backward(" not in text or "zero_grad" not in text or ".step(" not in text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        for scope in ix.scopes:
            out.extend(_epoch_step_through_calls(ix, f.rel, scope))
            zeros = [z for z in _calls(scope, "zero") if z.loops]
            opts = optimizer_names(ix)
            if not zeros:
                continue
            backs = _calls(scope, "backward")
            steps = [s for s in _calls(scope, "step") if s.extra != "scaler"]
            for zero in zeros:
                lid = zero.loops[-1]
                if any(lid in s.loops for s in steps):
                    continue
                if not any(lid in b.loops for b in backs):
                    continue
                outer = zero.loops[:-1]
                later = [
                    s
                    for s in steps
                    if s.order > zero.order
                    and s.loops == outer
                    and _same_parameters(opts, s.recv, zero.recv)
                ]
                if later:
                    out.append(_epoch_step_finding(f.rel, scope, zero, later[0]))
        return out


def _epoch_step_through_calls(ix: FileIndex, rel: str, scope: Scope) -> list[Finding]:
    """The same with ``zero_grad()`` and ``backward()`` in a function the batch loop calls
    (``self.train_step(xb, yb)``) and the step after that loop."""
    steps = [s for s in _calls(scope, "step") if s.extra != "scaler"]
    out: list[Finding] = []
    for ev in scope.events:
        if ev.kind != "call" or ev.role or not ev.loops or not steps:
            continue
        callee = resolve(ix, scope, ev)
        if callee is None or callee is scope:
            continue
        done = summary(ix, callee)
        if not (done.zero and done.backward) or done.step:
            continue
        lid = ev.loops[-1]
        if any(lid in s.loops for s in steps):
            continue
        later = [s for s in steps if s.order > ev.order and s.loops == ev.loops[:-1]]
        if later:
            step, loop_line = later[0], scope.loops[lid].line
            out.append(
                finding(
                    "loop.zero-grad-misplaced",
                    f"`{step.recv}.step()` runs once after the batch loop (line {loop_line}), "
                    f"but `{ev.name}()` (line {ev.line}) clears the gradients and runs "
                    "backward() for every batch, so every batch's gradient except the last is "
                    "cleared before any step uses it; step inside the batch loop (or in "
                    f"`{callee.name}`).",
                    how="static",
                    file=rel,
                    line=step.line,
                    detail={"loop_line": loop_line, "call_line": ev.line},
                )
            )
    return out


def _same_parameters(opts: dict[str, set[str]], optimizer: str, cleared: str) -> bool:
    """Whether stepping ``optimizer`` uses the gradients ``cleared.zero_grad()`` clears: the
    same object, or a module whose parameters the optimizer was built over."""
    if last(optimizer) == last(cleared):
        return True
    owners = opts.get(optimizer, set()) | opts.get(last(optimizer), set())
    return cleared in owners or last(cleared) in {last(o) for o in owners}


def _epoch_step_finding(rel: str, scope: Scope, zero: Event, step: Event) -> Finding:
    loop_line = scope.loops[zero.loops[-1]].line
    return finding(
        "loop.zero-grad-misplaced",
        f"`{step.recv}.step()` runs once after the batch loop (line {loop_line}), but "
        f"`{zero.recv}.zero_grad()` runs inside it, so every batch's gradient except the last "
        "is cleared before any step uses it; indent the step into the batch loop (or move "
        "`zero_grad()` out of it to accumulate on purpose).",
        how="static",
        file=rel,
        line=step.line,
        detail={"loop_line": loop_line, "zero_grad_line": zero.line},
    )


@dataclass(slots=True)
class EvalStep:
    """A shared epoch function that steps unguarded, and a call of it for evaluation."""

    function: Scope
    param: str
    step: Event
    call: Event
    caller: Scope
    why: str


def _flag_param(scope: Scope, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The parameter the function tests as its train / eval switch, or ""."""
    names = [p for p in scope.params if p in _FLAGS or p in _PHASES]
    for p in names:
        for sub in ast.walk(node):
            test = sub.test if isinstance(sub, ast.If | ast.IfExp) else None
            if test is not None and any(
                isinstance(n, ast.Name) and n.id == p for n in ast.walk(test)
            ):
                return p
            if (
                isinstance(sub, ast.Call)
                and call_attr(sub) in {"train", "set_grad_enabled"}
                and sub.args
                and isinstance(sub.args[0], ast.Name)
                and sub.args[0].id == p
            ):
                return p
    unused = [p for p in names if p in _FLAGS]
    return unused[0] if unused else ""  # a train flag the body never reads guards nothing


def _guarded_lines(node: ast.AST, param: str) -> set[int]:
    """Lines under an ``if`` that tests ``param``, and every line after an early exit taken
    when ``param`` says evaluation."""
    out: set[int] = set()
    for sub in ast.walk(node):
        if not isinstance(sub, ast.If):
            continue
        if not any(isinstance(n, ast.Name) and n.id == param for n in ast.walk(sub.test)):
            continue
        for part in [*sub.body, *sub.orelse]:
            end = part.end_lineno or part.lineno
            out.update(range(part.lineno, end + 1))
        if any(isinstance(s, ast.Return | ast.Continue | ast.Break) for s in sub.body):
            end = getattr(node, "end_lineno", None) or sub.lineno
            out.update(range(sub.lineno, end + 1))
    return out


def _evaluation_value(arg: ast.expr) -> bool:
    flag = const_bool(arg)
    if flag is False:
        return True
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return names_eval(arg.value)
    return False


def _evaluation_loader(call: ast.Call) -> str:
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        name = last(dotted(arg))
        low = name.lower()
        loaderish = "loader" in low or "data" in low or "dl" in low
        if loaderish and names_eval(name):
            return dotted(arg)
    return ""


def steps_during_eval(ix: FileIndex, tree: ast.Module) -> list[EvalStep]:
    """Shared epoch functions whose ``backward()`` / ``step()`` no train flag guards, with the
    calls that run them for evaluation; memoized per file."""
    cached = ix.memo.get(("steps_during_eval", 0))
    if isinstance(cached, list):
        return cached
    out: list[EvalStep] = []
    ix.memo[("steps_during_eval", 0)] = out
    candidates = [
        s
        for s in ix.scopes
        if s.name != "<module>"
        and any(e.kind == "call" and e.role == "step" and e.extra != "args" for e in s.events)
        and any(e.kind == "call" and e.role == "backward" for e in s.events)
        and any(p in _FLAGS or p in _PHASES for p in s.params)
    ]
    if not candidates:
        return out
    note_defaults(ix, tree)
    nodes = {
        (n.name, n.lineno): n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for scope in candidates:
        node = nodes.get((scope.name, scope.line))
        if node is None:
            continue
        param = _flag_param(scope, node)
        guarded = _guarded_lines(node, param) if param else set()
        steps = [
            e
            for e in scope.events
            if e.kind == "call" and e.role in {"step", "backward"} and e.line not in guarded
        ]
        if not steps or not param:
            continue
        step = next((e for e in steps if e.role == "step"), steps[0])
        for caller, ev, arg in param_values(ix, scope, param):
            assert isinstance(ev.node, ast.Call)
            loader = _evaluation_loader(ev.node)
            if _evaluation_value(arg):
                why = f"{param}={ast.unparse(arg)}"
            elif loader and const_bool(arg) is not True:
                why = f"the loader `{loader}`"
            else:
                continue
            out.append(EvalStep(scope, param, step, ev, caller, why))
    return out


class StepDuringEvalRule(Rule):
    """A shared ``run_epoch(loader, train=False)`` whose ``backward()`` and ``step()`` the train
    flag does not guard: the model trains on the validation data."""

    ids: ClassVar[tuple[str, ...]] = ("mode.step-during-eval",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        if "backward(" not in f.text or "def " not in f.text:
            return []
        ix = index_of(f)
        if ix is None:
            return []
        out: list[Finding] = []
        seen: set[int] = set()
        for item in steps_during_eval(ix, f.tree):
            if item.step.line in seen:
                continue
            seen.add(item.step.line)
            fn = item.function.name
            out.append(
                finding(
                    "mode.step-during-eval",
                    f"`{fn}` is called for evaluation ({item.why}, line {item.call.line}) but "
                    f"its `{item.step.name or 'step'}()` at line {item.step.line} is not "
                    f"guarded by `{item.param}`, so the model trains on the evaluation data "
                    f"and its scores are meaningless; run `backward()` and the optimizer step "
                    f"only `if {item.param}:`.",
                    how="static",
                    file=f.rel,
                    line=item.step.line,
                    detail={
                        "function": fn,
                        "flag": item.param,
                        "eval_call_line": item.call.line,
                    },
                )
            )
        return out


__all__ = ["ClipOrderRule", "EvalStep", "StepDuringEvalRule", "StepPerEpochRule"]
