"""Held-out data that is the training data (the same object, overlapping slices, a dataset built
the same way) and statistics computed over the whole data before it is split (a leak)."""

from __future__ import annotations

import ast
import re

from dlpilot.tools.inspect.code._names import (
    Role,
    base_name,
    dotted,
    has_star_kwargs,
    is_false,
    kwarg,
    last_name,
    role,
)
from dlpilot.tools.inspect.code.setup.facts._context import Scope, WalkContext, pairs

_MODULE_ALIASES = frozenset({"np", "numpy", "torch", "th", "pd", "pandas", "F", "math"})
_DATASET_IGNORED_KW = frozenset(
    {
        "transform",
        "target_transform",
        "transforms",
        "download",
        "augment",
        "augmentation",
        "aug",
        "transform_fn",
        "preprocess",
    }
)
_TORCHVISION_SETS = frozenset(
    {
        "MNIST",
        "FashionMNIST",
        "KMNIST",
        "EMNIST",
        "QMNIST",
        "CIFAR10",
        "CIFAR100",
        "SVHN",
        "STL10",
        "ImageNet",
        "CelebA",
        "Food101",
        "Flowers102",
        "OxfordIIITPet",
        "Caltech101",
        "Places365",
    }
)
_SPLITTERS = frozenset({"train_test_split", "random_split", "split", "Subset", "sample"})
_STATS_TARGET = re.compile(r"(?i)mean|std|\bmu\b|sigma|stat|scale|norm|var\b|min|max")


class LeakFacts(WalkContext):
    """Collects ``overlap_issues`` (but the loaders') and ``leak_issues``."""

    def _kwarg_overlap(self, call: ast.Call, name: str) -> None:
        train: dict[str, ast.expr] = {}
        evals: list[tuple[str, ast.expr]] = []
        for kw in call.keywords:
            r = role(kw.arg)
            if r == "train":
                train[kw.arg or ""] = kw.value
            elif r == "eval" and kw.arg not in ("eval_steps", "eval_strategy"):
                evals.append((kw.arg or "", kw.value))
        for arg, value in evals:
            vname = dotted(value)
            if vname and role(vname.split(".")[-1]) == "train":
                self.facts.overlap_issues.append(
                    (call.lineno, f"{arg}={vname}: held-out data is the training data")
                )
                return
            dump = ast.dump(value)
            for targ, tvalue in train.items():
                if vname and ast.dump(tvalue) == dump:
                    self.facts.overlap_issues.append(
                        (call.lineno, f"{targ} and {arg} are the same object {vname}")
                    )
                    return
        if name == "fit" and len(call.args) >= 3:
            a, b = call.args[1], call.args[2]
            if dotted(a) and ast.dump(a) == ast.dump(b):
                self.facts.overlap_issues.append(
                    (call.lineno, f"fit() trains and validates on the same {dotted(a)}")
                )

    def _stats(self, call: ast.Call, name: str, scope: Scope) -> None:
        if not self.assigning:
            return
        rec = self.assigning[-1]
        func = call.func
        data = ""
        if name in ("fit", "fit_transform") and call.args and isinstance(func, ast.Attribute):
            recv = func.value
            recv_name = last_name(recv)
            looked = self._lookup(recv, scope, call.lineno)
            if looked is not None:
                recv_name += " " + last_name(looked)
            if re.search(r"(?i)scaler|normali[sz]er|standardi", recv_name):
                data = base_name(call.args[0])
        elif name in ("mean", "std", "var", "nanmean", "nanstd", "std_mean"):
            names_ok = any(_STATS_TARGET.search(n) for n in rec.names) or isinstance(
                rec.value, ast.BinOp
            )
            if not names_ok or not _across_samples(call):
                return
            if isinstance(func, ast.Attribute) and dotted(func.value) in _MODULE_ALIASES:
                data = base_name(call.args[0]) if call.args else ""
            elif isinstance(func, ast.Attribute):
                data = base_name(func.value)
        if data and data != "self" and role(data) is None:
            scope.stats.append((call.lineno, data))

    def _scope_splits(self, sc: Scope) -> None:
        slices: dict[str, list[tuple[Role, ast.Slice, int, str]]] = {}
        built: list[tuple[Role, str, int, str]] = []
        splits: list[tuple[int, set[str]]] = []
        for rec in sc.assigns:
            bound = pairs(rec)
            for tname, value in bound:
                r = role(tname)
                if isinstance(value, ast.Subscript):
                    base = dotted(value.value)
                    if isinstance(value.slice, ast.Slice) and base:
                        if r is not None:
                            slices.setdefault(base, []).append((r, value.slice, rec.line, tname))
                        splits.append((rec.line, {base_name(value)}))
                    elif (
                        isinstance(value.slice, ast.Name)
                        and role(value.slice.id) is not None
                        and base
                    ):
                        splits.append((rec.line, {base_name(value)}))
                elif r == "eval" and isinstance(value, ast.Name | ast.Attribute):
                    src = dotted(value)
                    if src and role(src.split(".")[-1]) == "train":
                        self.facts.overlap_issues.append(
                            (rec.line, f"{tname} = {src}: held-out data is the training data")
                        )
                elif r is not None and isinstance(value, ast.Call):
                    key = _dataset_key(value)
                    if key:
                        built.append((r, key, rec.line, tname))
            value = rec.value
            if isinstance(value, ast.Call):
                name = last_name(value.func)
                if name in _SPLITTERS and (name != "sample" or kwarg(value, "frac") is not None):
                    bases = {base_name(a) for a in value.args} - {""}
                    func = value.func
                    if isinstance(func, ast.Attribute):
                        head = base_name(func.value)
                        if head and head not in _MODULE_ALIASES:
                            bases.add(head)
                    splits.append((rec.line, bases))
                    self.split_calls.append((rec, value, sc))
        for base, items in slices.items():
            trains = [i for i in items if i[0] == "train"]
            for e in (i for i in items if i[0] == "eval"):
                for tr in trains:
                    if _slices_overlap(tr[1], e[1]):
                        self.facts.overlap_issues.append(
                            (e[2], f"{e[3]} and {tr[3]} are overlapping slices of {base}")
                        )
                        break
        for ev in (b for b in built if b[0] == "eval"):
            for same in (b for b in built if b[0] == "train" and b[1] == ev[1]):
                self.facts.overlap_issues.append(
                    (ev[2], f"{ev[3]} is built exactly like {same[3]}, so it holds the same data")
                )
                break
        if sc.stats and splits:
            self._leaks(sc, splits)

    def _leaks(self, sc: Scope, splits: list[tuple[int, set[str]]]) -> None:
        for line, data in sc.stats:
            derived = {data}
            later = sorted(
                [("a", r.line, r) for r in sc.assigns if r.line >= line], key=lambda x: x[1]
            )
            hit = 0
            for split_line, bases in sorted(splits, key=lambda s: s[0]):
                if split_line < line:
                    continue
                for _, aline, rec in later:
                    if aline < split_line and rec.loads & derived:
                        derived.update(rec.names)
                if bases & derived:
                    hit = split_line
                    break
            if hit:
                self.facts.leak_issues.append((line, data, hit))


def _across_samples(call: ast.Call) -> bool:
    """False for per-sample statistics (``keepdim=True``, or an axis that leaves out 0)."""
    for kw in call.keywords:
        if kw.arg in ("keepdim", "keepdims") and not is_false(kw.value):
            return False
    axis = kwarg(call, "dim") or kwarg(call, "axis")
    if axis is None and call.args and isinstance(call.func, ast.Attribute):
        if dotted(call.func.value) not in _MODULE_ALIASES:
            axis = call.args[0]
        elif len(call.args) > 1:
            axis = call.args[1]
    if axis is None:
        return True
    values: list[object] = []
    if isinstance(axis, ast.Constant):
        values = [axis.value]
    elif isinstance(axis, ast.Tuple | ast.List):
        values = [e.value for e in axis.elts if isinstance(e, ast.Constant)]
    else:
        return True
    return 0 in values


def _dataset_key(call: ast.Call) -> str:
    """A key equal for two dataset constructions that read the same data; ``""`` otherwise."""
    name = last_name(call.func)
    low = name.lower()
    if not ("dataset" in low or low.endswith("folder") or name in _TORCHVISION_SETS):
        return ""
    if any(w in low for w in ("random", "synthetic", "dummy", "fake")):
        return ""
    kws = [kw for kw in call.keywords if kw.arg not in _DATASET_IGNORED_KW]
    if not call.args and not kws:
        return ""
    if has_star_kwargs(call) or any(isinstance(a, ast.Starred) for a in call.args):
        return ""
    args = call.args[:1] if name in ("ImageFolder", "DatasetFolder") else call.args
    return (
        ast.dump(call.func)
        + "|"
        + "|".join(ast.dump(a) for a in args)
        + "|"
        + "|".join(sorted(f"{kw.arg}={ast.dump(kw.value)}" for kw in kws))
    )


def _bound(node: ast.expr | None) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _slices_overlap(a: ast.Slice, b: ast.Slice) -> bool:
    if a.step is not None or b.step is not None:
        return False
    if a.lower is None and b.lower is None:
        return not (_bound(a.upper) == 0 or _bound(b.upper) == 0)
    if a.upper is None and b.upper is None:
        return True
    dumps = [ast.dump(x) if x is not None else "" for x in (a.lower, a.upper, b.lower, b.upper)]
    if dumps[0] == dumps[2] and dumps[1] == dumps[3]:
        return True
    bounds = [_bound(x) for x in (a.lower, a.upper, b.lower, b.upper)]
    nones = [x is None for x in (a.lower, a.upper, b.lower, b.upper)]
    known = [v for v, n in zip(bounds, nones, strict=True) if not n]
    if all(v is not None for v in known) and all(v is not None and v >= 0 for v in known):
        lo_a = bounds[0] or 0
        lo_b = bounds[2] or 0
        hi_a = bounds[1] if not nones[1] else None
        hi_b = bounds[3] if not nones[3] else None
        end_a = hi_a if hi_a is not None else 1 << 62
        end_b = hi_b if hi_b is not None else 1 << 62
        return max(lo_a, lo_b) < min(end_a, end_b)
    return False


__all__ = ["LeakFacts"]
