"""``data.augment-on-eval`` from a dataset's own switch.

A Dataset class whose constructor takes an augmentation flag that defaults to on, and whose
``__getitem__`` randomizes the sample when the flag is set, built for an evaluation split without
the flag turned off. The switch may guard the randomness as ``if self.augment:``, ``if
self.augment and random.random() < p:``, a conditional expression or a local alias, and the random
change may sit in a helper method, a module function or a random transform the constructor
stores. The evaluation split may be built directly (``val_ds = Ds(...)``), inside a loader
(``val_loader = DataLoader(Ds(...))``, also ``dataset=Ds(...)``), in a dict under an evaluation key,
beside the training split in one tuple assignment, or by a function that builds the dataset and
is called for the evaluation split (``self.val_loader = self.make_loader(xv, yv)``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._astnames import dotted
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect._walk import read_python
from dlpilot.tools.inspect.code._names import last_name, names_eval

_SPLIT_WORDS = ("val", "Val", "VAL", "test", "Test", "TEST", "eval", "dev", "holdout")
_RANDOM_CALL = re.compile(
    r"(?:^|\.)(?:rand\w*|random\w*|normal\w*|uniform\w*|choices?|shuffle|bernoulli|randperm|"
    r"randint|poisson|flip\w*|roll|binomial|integers|gauss|sample|dropout\w*|Random\w*)$"
)
_DATA_WORDS = ("Dataset", "DataLoader", "dataset", "loader", "Loader")
"""Words one of which a file that builds an evaluation split (and hands it to a loader) or a loader
factory contains: the file gate of the build half of the rule, which costs as much as the rest."""
_TRAIN_FLAGS = frozenset({"train", "training", "is_train", "is_training"})
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True, slots=True)
class _Flag:
    cls: str
    param: str
    index: int  # position among the constructor's parameters after self
    rel: str
    line: int


@dataclass(frozen=True, slots=True)
class _Build:
    """A construction of a class bound to an evaluation split's name."""

    cls: str
    rel: str
    line: int
    target: str
    call: ast.Call
    via: str = ""  # the function that builds it, when the split's name is bound to its call
    set_attrs: frozenset[str] = frozenset()  # attributes that function sets on what it built


@dataclass(slots=True)
class _Factory:
    """A function that returns something and constructs classes on the way."""

    rel: str
    line: int
    calls: list[ast.Call] = field(default_factory=list)
    set_attrs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _EvalCall:
    """An evaluation split's name bound to the call of a lower-case function."""

    func: str
    rel: str
    line: int
    target: str
    call: ast.Call


def _flag_name(param: str) -> bool:
    """An augmentation switch: ``augment``-like, or a ``train=True`` flag (only believed together
    with random changes under the flag in ``__getitem__``)."""
    return "aug" in param.lower() or param in _TRAIN_FLAGS


def _stored_as(init: ast.FunctionDef, param: str) -> set[str]:
    """The attributes ``__init__`` stores ``param`` in: ``self.a = a``, also in a tuple
    assignment ``self.x, self.a = x, a``."""
    out: set[str] = set()
    for n in ast.walk(init):
        if not isinstance(n, ast.Assign):
            continue
        for t in n.targets:
            if isinstance(n.value, ast.Name) and n.value.id == param:
                out.add(dotted(t) or "")
            elif (
                isinstance(t, ast.Tuple)
                and isinstance(n.value, ast.Tuple)
                and len(t.elts) == len(n.value.elts)
            ):
                out.update(
                    dotted(te) or ""
                    for te, ve in zip(t.elts, n.value.elts, strict=True)
                    if isinstance(ve, ast.Name) and ve.id == param
                )
    out.discard("")
    return out


def _tests(test: ast.expr, names: set[str]) -> bool:
    """Whether a condition holds only when the flag is on: the flag itself, or an ``and`` of it."""
    if dotted(test) in names:
        return True
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_tests(v, names) for v in test.values)
    return False


class _Randomness:
    """Whether code randomizes, following calls to the class's own methods, to functions of its
    module, and to attributes the constructor set to a random transform."""

    def __init__(self, methods: dict[str, ast.FunctionDef], funcs: dict[str, ast.AST]) -> None:
        self._methods = methods
        self._funcs = funcs
        self._random_attrs = {
            dotted(t) or ""
            for n in ast.walk(methods["__init__"])
            if isinstance(n, ast.Assign) and self._direct(n.value)
            for t in n.targets
        }
        self._known: dict[str, bool] = {}  # callee -> randomizes (False while being read)

    @staticmethod
    def _direct(node: ast.AST) -> bool:
        return any(
            isinstance(n, ast.Call) and _RANDOM_CALL.search(dotted(n.func) or "") is not None
            for n in ast.walk(node)
        )

    def under(self, nodes: Iterable[ast.AST]) -> bool:
        for node in nodes:
            if self._direct(node):
                return True
            for n in ast.walk(node):
                if not isinstance(n, ast.Call):
                    continue
                name = dotted(n.func) or ""
                if name in self._random_attrs:
                    return True
                target: ast.AST | None = None
                if name.startswith("self.") and name.count(".") == 1:
                    target = self._methods.get(name[5:])
                elif "." not in name:
                    target = self._funcs.get(name)
                if target is None:
                    continue
                if name not in self._known:
                    self._known[name] = False  # a recursive call reads as not random
                    self._known[name] = self.under([target])
                if self._known[name]:
                    return True
        return False


def _guarded_random(
    get: ast.FunctionDef, attrs: set[str], random: _Randomness
) -> ast.stmt | ast.expr | None:
    """The first ``if`` / conditional expression in ``__getitem__`` that randomizes the sample
    only when the flag (or a local alias of it) is on."""
    names = set(attrs)
    for n in ast.walk(get):
        if isinstance(n, ast.Assign) and dotted(n.value) in attrs:
            names.update(dotted(t) or "" for t in n.targets)
    for n in ast.walk(get):
        if isinstance(n, ast.If) and _tests(n.test, names) and random.under([n.test, *n.body]):
            return n
        if isinstance(n, ast.IfExp) and _tests(n.test, names) and random.under([n.test, n.body]):
            return n
    return None


def _augment_flags(f: SourceFile) -> list[_Flag]:
    """Dataset classes whose constructor takes an augmentation flag that defaults to on, and
    whose ``__getitem__`` randomizes the sample under it."""
    out: list[_Flag] = []
    funcs: dict[str, ast.AST] = {n.name: n for n in f.tree.body if isinstance(n, _FUNCS)}
    for cls in (n for n in f.tree.body if isinstance(n, ast.ClassDef)):  # datasets are top-level
        methods = {s.name: s for s in cls.body if isinstance(s, ast.FunctionDef)}
        init, get = methods.get("__init__"), methods.get("__getitem__")
        if init is None or get is None:
            continue
        params = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
        defaults = dict(
            zip(params[len(params) - len(init.args.defaults) :], init.args.defaults, strict=True)
        )
        for kw, d in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True):
            params.append(kw.arg)
            if d is not None:
                defaults[kw.arg] = d
        random = _Randomness(methods, funcs)
        for param in params:
            default = defaults.get(param)
            if not _flag_name(param) or not (
                isinstance(default, ast.Constant) and default.value is True
            ):
                continue
            guard = _guarded_random(get, _stored_as(init, param), random)
            if guard is not None:
                out.append(_Flag(cls.name, param, params.index(param), f.rel, guard.lineno))
    return out


def _turned_off(call: ast.Call, flag: _Flag, set_attrs: frozenset[str]) -> bool:
    """Whether a construction passes the flag anything but ``True`` (or may, through ``**kw`` or
    ``*args``), or the function that built it sets the flag afterwards."""
    if flag.param in set_attrs:
        return True
    for kw in call.keywords:
        if kw.arg is None:
            return True  # **kwargs may carry it
        if kw.arg == flag.param:
            return not (isinstance(kw.value, ast.Constant) and kw.value.value is True)
    if any(isinstance(a, ast.Starred) for a in call.args):
        return True
    if len(call.args) > flag.index:
        arg = call.args[flag.index]
        return not (isinstance(arg, ast.Constant) and arg.value is True)
    return False


def _build_lines(text: str) -> set[int]:
    """Lines that may bind a call to an evaluation split's name: the split word, then ``=`` or
    ``:`` and a call, on one line."""
    out: set[int] = set()
    for word in _SPLIT_WORDS:
        pos = text.find(word)
        while pos != -1:
            end = text.find("\n", pos)
            rest = text[pos : end if end != -1 else len(text)]
            eq = min((i for i in (rest.find("="), rest.find(":")) if i != -1), default=-1)
            if eq != -1 and rest[eq + 1 : eq + 2] != "=" and "(" in rest[eq:]:
                out.add(text.count("\n", 0, pos) + 1)
            pos = text.find(word, pos + len(word))
    return out


def _bindings(node: ast.stmt) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) pairs an assignment binds: ``a = v``, ``a: T = v``, ``a, b = v, w`` pairwise,
    and ``d = {"val": v}`` as ``d['val']``."""
    if isinstance(node, ast.Assign):
        pairs: list[tuple[ast.expr, ast.expr]] = [(t, node.value) for t in node.targets]
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        pairs = [(node.target, node.value)]
    else:
        return
    for target, value in pairs:
        if isinstance(target, ast.Tuple):
            if isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    if not isinstance(t, ast.Tuple):
                        yield dotted(t) or "", v
            continue  # train_ds, val_ds = split(...): which part is which cannot be told here
        name = dotted(target) or ""
        if isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    yield f"{name}[{k.value!r}]", v
        else:
            yield name, value


def _constructions(call: ast.Call) -> list[ast.Call]:
    """The call and the calls it is handed: ``DataLoader(Ds())``, ``DataLoader(dataset=Ds())``."""
    inner = [*call.args, *(kw.value for kw in call.keywords)]
    return [call, *(a for a in inner if isinstance(a, ast.Call))]


def _eval_bindings(f: SourceFile, lines: set[int]) -> tuple[list[_Build], list[_EvalCall]]:
    """Constructions (upper-case callees) and function calls bound to an evaluation split's name;
    only statements on ``lines`` are read."""
    builds: list[_Build] = []
    calls: list[_EvalCall] = []
    todo: list[ast.AST] = list(f.tree.body)
    while todo:
        node = todo.pop()
        start, end = getattr(node, "lineno", 0), getattr(node, "end_lineno", 0) or 0
        if not any(start <= n <= end for n in lines):
            continue
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            if isinstance(node, ast.stmt):
                todo.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt))
            continue
        for target, value in _bindings(node):
            if not isinstance(value, ast.Call) or not names_eval(target):
                continue
            for call in _constructions(value):
                name = last_name(call.func)
                if name[:1].isupper():
                    builds.append(_Build(name, f.rel, node.lineno, target, call))
                elif call is value and (key := _factory_key(call)):
                    calls.append(_EvalCall(key, f.rel, node.lineno, target, call))
    return builds, calls


def _defs(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions (keyed by name) and methods of top-level classes (keyed
    ``self.name``): the functions a call can name as a factory."""
    out: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for st in tree.body:
        if isinstance(st, _FUNCS):
            out.setdefault(st.name, st)
        elif isinstance(st, ast.ClassDef):
            for fn in st.body:
                if isinstance(fn, _FUNCS):
                    out.setdefault(f"self.{fn.name}", fn)
    return out


def _factory(fn: ast.FunctionDef | ast.AsyncFunctionDef, rel: str) -> _Factory | None:
    """What a function builds, if it returns a value and constructs classes on the way."""
    returns = False
    calls: list[ast.Call] = []
    set_attrs: set[str] = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Call):
            if last_name(n.func)[:1].isupper():
                calls.append(n)
        elif isinstance(n, ast.Return):
            returns = returns or n.value is not None
        elif isinstance(n, ast.Assign):
            set_attrs.update(t.attr for t in n.targets if isinstance(t, ast.Attribute))
    return _Factory(rel, fn.lineno, calls, frozenset(set_attrs)) if returns and calls else None


def _factory_key(call: ast.Call) -> str:
    """How a call names a factory: ``make`` and ``mod.make`` a top-level function, ``self.make``
    a method; any other callee (``cfg.get``) names none."""
    name = dotted(call.func) or ""
    parts = name.split(".")
    if len(parts) == 1:
        return name
    if len(parts) == 2:
        return name if parts[0] == "self" else parts[1]
    return ""


class AugmentFlagRule(Rule):
    """A dataset whose augmentation flag defaults to on, built for evaluation without turning it
    off: the evaluation samples are randomly shifted, noised or masked."""

    ids: ClassVar[tuple[str, ...]] = ("data.augment-on-eval",)

    def __init__(self) -> None:
        self._flags: dict[str, list[_Flag]] = {}
        self._builds: list[_Build] = []
        self._calls: list[_EvalCall] = []
        self._factories: dict[str, _Factory | None] = {}  # resolved, by the call's key
        self._defined: dict[str, str] = {}  # function key -> the file that defines it

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        if ("aug" in text or "train" in text) and "__getitem__" in text:
            for flag in _augment_flags(f):
                self._flags.setdefault(flag.cls, []).append(flag)
        if not any(w in text for w in _DATA_WORDS):
            return []  # no evaluation split built here, nor a loader factory
        defs = _defs(f.tree)
        for key in defs:
            self._defined.setdefault(key, f.rel)
        lines = _build_lines(text)
        if lines:
            builds, calls = _eval_bindings(f, lines)
            self._builds.extend(builds)
            self._calls.extend(calls)
            for call in calls:  # a factory in the same file (a trainer's loader method)
                if call.func in defs and call.func not in self._factories:
                    self._factories[call.func] = _factory(defs[call.func], f.rel)
        return []

    def _resolve(self, project: Project) -> None:
        """Factories defined in another file than their call, read again from disk: no tree is
        kept from a file's visit."""
        todo: dict[str, set[str]] = {}
        for call in self._calls:
            rel = self._defined.get(call.func)
            if rel is not None and call.func not in self._factories:
                todo.setdefault(rel, set()).add(call.func)
        for rel, keys in todo.items():
            parsed = read_python(project.root / rel)  # as the visit read it
            if parsed.tree is None:
                continue
            defs = _defs(parsed.tree)
            for key in keys:
                self._factories[key] = _factory(defs[key], rel) if key in defs else None

    def _through_factories(self) -> Iterable[_Build]:
        """Builds made by a factory called for an evaluation split. A factory that turns the
        flag off for any of its constructions of a class is taken to choose per split (``if
        split == "train": return Ds(x) / return Ds(x, augment=False)``) and is left alone."""
        for call in self._calls:
            fac = self._factories.get(call.func)
            if fac is None:
                continue
            chooses = {
                last_name(inner.func)
                for inner in fac.calls
                for flag in self._flags.get(last_name(inner.func), [])
                if _turned_off(inner, flag, fac.set_attrs)
            }
            for inner in fac.calls:
                if last_name(inner.func) in chooses:
                    continue
                yield _Build(
                    last_name(inner.func),
                    call.rel,
                    call.line,
                    call.target,
                    inner,
                    via=f"`{call.func}` ({fac.rel}:{fac.line})",
                    set_attrs=fac.set_attrs,
                )

    def finish(self, project: Project) -> Iterable[Finding]:
        if not self._flags:
            return []
        self._resolve(project)
        out: list[Finding] = []
        seen: set[tuple[str, int]] = set()
        for build in [*self._builds, *self._through_factories()]:
            for flag in self._flags.get(build.cls, []):
                if (build.rel, build.line) in seen or _turned_off(
                    build.call, flag, build.set_attrs
                ):
                    continue
                seen.add((build.rel, build.line))
                how = f" by {build.via}" if build.via else ""
                out.append(
                    finding(
                        "data.augment-on-eval",
                        f"`{build.target}` is built{how} from `{build.cls}`, whose "
                        f"`{flag.param}` defaults to True (random changes at {flag.rel}:"
                        f"{flag.line}), without `{flag.param}=False`: evaluation samples are "
                        "augmented, so the scores are noisy and lower than the model's; pass "
                        f"`{flag.param}=False` for evaluation splits.",
                        how="static",
                        file=build.rel,
                        line=build.line,
                        detail={"dataset": build.cls, "flag": flag.param},
                    )
                )
        return out


__all__ = ["AugmentFlagRule"]
