"""The rule on inputs and labels reordered apart from each other before they are used together."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._astnames import dotted
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect._walk import read_python
from dlpilot.tools.inspect.code._names import last_name

_LABEL = re.compile(r"^(?:[yY]s?|[yY]_\w+|\w+_[yY]s?|labels?|targets?|\w*_labels?|\w*_targets?)$")
_REORDER_WORDS = ("randperm(", "shuffle(", "permutation(", "sort(")
# calls that take inputs and labels side by side without pairing their rows
_NOT_PAIRING = frozenset({"print", "len", "log", "info", "debug", "isinstance", "type", "str"})
_SEEDING = re.compile(r"seed|set_state|manual_seed")


class _Order:
    """How each array of one function body has been reordered, in statement order."""

    def __init__(self) -> None:
        self.perm: dict[str, str] = {}  # index variable -> the random permutation it holds
        self.state: dict[str, tuple[str, int]] = {}  # array -> (its ordering, line)
        self.fresh = 0
        self.seed = ""
        self.draws = 0

    def new(self, what: str) -> str:
        self.fresh += 1
        return f"{what}#{self.fresh}"

    def index_source(self, index: ast.expr) -> str:
        if isinstance(index, ast.Name):
            return self.perm.get(index.id, "")
        if isinstance(index, ast.Call) and _reorders(index):
            return self.new("perm")
        return ""


def _reorders(call: ast.Call) -> bool:
    name = dotted(call.func) or ""
    return name.endswith(("randperm", "permutation", "argsort")) or name.endswith("random.sample")


def _statements(body: list[ast.stmt]) -> Iterable[ast.stmt]:
    """The body's statements in order, stepping into blocks but not nested definitions."""
    for st in body:
        yield st
        if isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(st, field, None)
            if isinstance(inner, list):
                yield from _statements([s for s in inner if isinstance(s, ast.stmt)])


def _find_all(text: str, words: tuple[str, ...]) -> Iterable[int]:
    for word in words:
        pos = text.find(word)
        while pos != -1:
            yield pos
            pos = text.find(word, pos + len(word))


def _own_nodes(st: ast.stmt) -> Iterable[ast.AST]:
    """The nodes of a statement itself: a block's header, not its body (walked on its own)."""
    if isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return ()
    if isinstance(st, ast.For | ast.AsyncFor):
        return ast.walk(st.iter)
    if isinstance(st, ast.While | ast.If):
        return ast.walk(st.test)
    if isinstance(st, ast.With | ast.AsyncWith):
        return [n for item in st.items for n in ast.walk(item.context_expr)]
    if isinstance(st, ast.Try | ast.Match):
        return ()
    return ast.walk(st)


def _scopes_around(tree: ast.Module, lines: set[int]) -> list[ast.AST]:
    """Every function spanning one of ``lines`` (nested ones too), and each other top-level
    statement that spans one (classes are looked into, not kept)."""
    top = {id(st) for st in tree.body}
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        start, end = getattr(node, "lineno", 0), getattr(node, "end_lineno", 0) or 0
        if not any(start <= n <= end for n in lines):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (
            id(node) in top and not isinstance(node, ast.ClassDef)
        ):
            out.append(node)
        todo.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt))
    return out


def _bodies(tree: ast.Module, scopes: list[ast.AST]) -> list[list[ast.stmt]]:
    """The bodies statements run in, of :func:`_scopes_around`'s scopes: the module's (when a
    top-level statement is among them) and each function's."""
    funcs = [s for s in scopes if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    out = [tree.body] if len(funcs) < len(scopes) else []
    return out + [f.body for f in funcs]


def _misaligned(body: list[ast.stmt]) -> list[tuple[str, str, int]]:
    """(inputs, labels, line) pairs used together after being reordered differently."""
    order = _Order()
    out: list[tuple[str, str, int]] = []
    for st in _statements(body):
        if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
            call = st.value
            name = dotted(call.func) or ""
            if _SEEDING.search(name):
                # the same seed before each shuffle repeats the permutation: name the draw by
                # the seed and how many shuffles followed it
                order.seed, order.draws = ast.unparse(call), 0
                continue
            if name.endswith("shuffle") and call.args:
                if order.seed:
                    drawn = f"{order.seed}#{order.draws}"
                    order.draws += 1
                else:
                    drawn = order.new("shuffle")
                order.state[dotted(call.args[0])] = (drawn, st.lineno)
            elif name.endswith(".sort") and isinstance(call.func, ast.Attribute):
                order.state[dotted(call.func.value)] = (order.new("sort"), st.lineno)
        if isinstance(st, ast.Assign) and len(st.targets) == 1:
            target, value = st.targets[0], st.value
            if (
                isinstance(target, ast.Tuple)
                and isinstance(value, ast.Tuple)
                and len(target.elts) == len(value.elts)
            ):  # X, Y = X[perm], Y[perm]: each pair on its own, all read before any is bound
                pairs = [
                    ast.Assign(targets=[t], value=v)
                    for t, v in zip(target.elts, value.elts, strict=True)
                ]
                for pair in pairs:
                    pair.lineno = st.lineno
                for pair in pairs:
                    _note_assign(order, pair)
            else:
                _note_assign(order, st)
        for call in (n for n in _own_nodes(st) if isinstance(n, ast.Call)):
            if (dotted(call.func) or "").rsplit(".", 1)[-1] in _NOT_PAIRING:
                continue
            names = [_rows_of(a) for a in call.args]
            labels = [n for n in names if n and _LABEL.match(n.rsplit(".", 1)[-1])]
            inputs = [n for n in names if n and n not in labels]
            for y in labels:
                for x in inputs:
                    sx, sy = order.state.get(x), order.state.get(y)
                    if (sx or sy) and (sx or ("", 0))[0] != (sy or ("", 0))[0]:
                        line = max((sx or ("", 0))[1], (sy or ("", 0))[1])
                        out.append((x, y, line))
    return out


def _ordering(order: _Order, expr: ast.expr) -> tuple[str, int] | None:
    """The ordering an expression's rows have: ``y[perm][:800]`` -> perm's."""
    if isinstance(expr, ast.Subscript):
        source = order.index_source(expr.slice)
        if source:
            return source, 0
        return _ordering(order, expr.value)
    name = dotted(expr)
    return order.state.get(name) if name else None


def _rows_of(arg: ast.expr) -> str:
    """The array whose rows an argument passes: ``X`` for ``X`` and ``X[:800]``."""
    if isinstance(arg, ast.Subscript) and isinstance(arg.slice, ast.Slice):
        return dotted(arg.value) or ""
    return dotted(arg) or ""


def _note_assign(order: _Order, st: ast.Assign) -> None:
    target = dotted(st.targets[0])
    value = st.value
    if not target:
        return
    if isinstance(value, ast.Call) and _reorders(value):
        args = [dotted(a) for a in value.args]
        name = dotted(value.func) or ""
        if name.endswith("permutation") and args and args[0] and target == args[0]:
            order.state[target] = (order.new("shuffle"), st.lineno)  # X = rng.permutation(X)
        else:
            order.perm[target] = order.new("perm")
        return
    if isinstance(value, ast.Subscript):
        base = dotted(value.value)
        if base in order.perm:  # train_idx = perm[:800]
            order.perm[target] = order.perm[base]
            return
        found = _ordering(order, value)
        if found is not None:
            order.state[target] = (found[0], found[1] or st.lineno)
        return
    if isinstance(value, ast.Call):
        name = dotted(value.func) or ""
        if name.rsplit(".", 1)[-1] in {"sort", "sorted"} and value.args:
            order.state[target] = (order.new("sort"), st.lineno)
        return
    if isinstance(value, ast.Name) and value.id in order.state:
        order.state[target] = order.state[value.id]


def _draws_per_item(nodes: list[ast.AST], item: str) -> bool:
    """Whether code run once per item reorders that item with a draw of its own (``t[randperm(
    len(t))]``, ``idx = randperm(n); t[idx]``, ``permutation(t)``, ``shuffle(t)``), with no seed
    set again for each item."""
    drawn: set[str] = set()  # names bound to a permutation drawn in this item's code
    draws = False
    for n in (n for node in nodes for n in ast.walk(node)):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute | ast.Name)
            and _SEEDING.search(n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id)
        ):
            return False  # generator=torch.Generator().manual_seed(0): the same draw each time
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and _reorders(n.value):
            drawn.update(dotted(t) or "" for t in n.targets)
        elif isinstance(n, ast.Subscript) and dotted(n.value) == item:
            draws = draws or any(
                (isinstance(c, ast.Call) and _reorders(c))
                or (isinstance(c, ast.Name) and c.id in drawn)
                for c in ast.walk(n.slice)
            )
        elif isinstance(n, ast.Call):
            name = dotted(n.func) or ""
            if name.endswith(("shuffle", "permutation")) and n.args:
                draws = draws or dotted(n.args[0]) == item
    return draws


def _per_item_loops(scope: ast.AST) -> Iterable[tuple[ast.expr, int]]:
    """(iterable, line) of each comprehension or ``for`` loop in ``scope`` that reorders every
    item it walks with its own random draw."""
    for n in ast.walk(scope):
        if isinstance(n, ast.GeneratorExp | ast.ListComp) and len(n.generators) == 1:
            gen = n.generators[0]
            if isinstance(gen.target, ast.Name) and _draws_per_item([n.elt], gen.target.id):
                yield gen.iter, n.lineno
        elif (
            isinstance(n, ast.For)
            and isinstance(n.target, ast.Name)
            and _draws_per_item(list(n.body), n.target.id)
        ):
            yield n.iter, n.lineno


def _pairs_apart(args: list[ast.expr]) -> tuple[str, str] | None:
    """An input and a label among arrays handed over side by side."""
    names = [_rows_of(a) for a in args]
    labels = [n for n in names if n and _LABEL.match(n.rsplit(".", 1)[-1])]
    inputs = [n for n in names if n and n not in labels]
    return (inputs[0], labels[0]) if labels and inputs else None


def _message(x: str, y: str, where: str) -> str:
    return (
        f"`{x}` and `{y}` are reordered apart ({where}) and then used together, so each input "
        "gets another example's label: the model can only learn the label frequencies; shuffle "
        f"both with one permutation (`idx = torch.randperm(n); {x}, {y} = {x}[idx], {y}[idx]`)."
    )


class LabelsMisalignedRule(Rule):
    """Inputs and labels shuffled, permuted or sorted apart, then used together: in one body,
    in a loop over both that draws a permutation per array, or through a helper that does."""

    ids: ClassVar[tuple[str, ...]] = ("data.labels-misaligned",)

    def __init__(self) -> None:
        # function -> (file, line, position of the parameter walked, whether it is *args)
        self._helpers: dict[str, tuple[str, int, int, bool]] = {}
        # per file: the names it imports with ``from m import ...`` and the modules it imports,
        # to find, at the end, the files that may call a helper found in another file
        self._imports: list[tuple[str, frozenset[str]]] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        text = f.text
        self._imports.append((f.rel, _imported(f.tree)))
        if not any(w in text for w in _REORDER_WORDS):
            return []
        lines = {text.count("\n", 0, pos) + 1 for pos in _find_all(text, _REORDER_WORDS)}
        out: list[Finding] = []
        seen: set[int] = set()

        def report(x: str, y: str, line: int, where: str) -> None:
            if line not in seen:
                seen.add(line)
                out.append(
                    finding(
                        "data.labels-misaligned",
                        _message(x, y, where),
                        how="static",
                        file=f.rel,
                        line=line,
                        detail={"inputs": x, "labels": y},
                    )
                )

        scopes = _scopes_around(f.tree, lines)
        for body in _bodies(f.tree, scopes):
            for x, y, line in _misaligned(body):
                report(x, y, line, f"line {line}")
        found = False
        for scope in scopes:
            loops = list(_per_item_loops(scope))
            for it, line in loops:
                if isinstance(it, ast.Tuple | ast.List) and (pair := _pairs_apart(it.elts)):
                    report(*pair, line, f"a new permutation for each array, line {line}")
            if not isinstance(scope, ast.FunctionDef):
                continue
            params = [a.arg for a in [*scope.args.posonlyargs, *scope.args.args]]
            if params and params[0] in ("self", "cls"):
                params = params[1:]
            star = scope.args.vararg.arg if scope.args.vararg is not None else None
            for it, line in loops:
                walked = dotted(it)
                if walked and walked == star:
                    self._helpers.setdefault(scope.name, (f.rel, line, len(params), True))
                    found = True
                elif walked in params:
                    self._helpers.setdefault(scope.name, (f.rel, line, params.index(walked), False))
                    found = True
        if found:
            out.extend(
                self._helper_calls(
                    f.rel, f.tree, {n for n, h in self._helpers.items() if h[0] == f.rel}
                )
            )
        return out

    def _helper_calls(self, rel_file: str, tree: ast.Module, names: set[str]) -> list[Finding]:
        """Calls in one file of the helpers ``names`` that hand them inputs and labels."""
        out: list[Finding] = []
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = last_name(call.func)
            if name not in names:
                continue
            rel, line, pos, star = self._helpers[name]
            walked = call.args[pos:] if star else call.args[pos : pos + 1]
            if not star and walked and isinstance(walked[0], ast.Tuple | ast.List):
                walked = walked[0].elts
            elif not star:
                continue  # one array walked by its rows, not several arrays
            pair = _pairs_apart(walked)
            if pair is None:
                continue
            out.append(
                finding(
                    "data.labels-misaligned",
                    _message(*pair, f"`{name}` draws a new permutation per array, {rel}:{line}"),
                    how="static",
                    file=rel_file,
                    line=call.lineno,
                    detail={"inputs": pair[0], "labels": pair[1], "helper": name},
                )
            )
        return out

    def finish(self, project: Project) -> Iterable[Finding]:
        """Calls of each helper from the other files that import it (by name, or its module),
        read again from disk: no file's text or tree is kept from its visit."""
        imports, self._imports = self._imports, []
        out: list[Finding] = []
        for rel_file, names in imports:
            wanted = {
                h
                for h, (rel, *_rest) in self._helpers.items()
                if rel != rel_file and (h in names or _module_of(rel) in names)
            }
            if not wanted:
                continue
            parsed = read_python(project.root / rel_file)  # as the visit read it
            if parsed.tree is not None:
                out.extend(self._helper_calls(rel_file, parsed.tree, wanted))
        return out


def _imported(tree: ast.Module) -> frozenset[str]:
    """The names a module's top level imports: ``from m import a`` gives ``a``, ``import m.n``
    and ``from . import m`` give ``m`` / ``n``."""
    out: set[str] = set()
    for st in tree.body:
        if isinstance(st, ast.ImportFrom):
            out.update(a.name for a in st.names)
            if st.module:
                out.add(st.module.rsplit(".", 1)[-1])
        elif isinstance(st, ast.Import):
            out.update(a.name.rsplit(".", 1)[-1] for a in st.names)
    return frozenset(out)


def _module_of(rel: str) -> str:
    """The module name a file is imported by: ``pkg/utils.py`` -> ``utils``."""
    stem = rel.rsplit("/", 1)[-1].removesuffix(".py")
    return rel.rsplit("/", 2)[-2] if stem == "__init__" and "/" in rel else stem


__all__ = ["LabelsMisalignedRule"]
