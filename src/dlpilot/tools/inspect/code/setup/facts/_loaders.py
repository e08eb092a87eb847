"""Data loaders: a training loader that never shuffles, loaders of training and held-out data
reading the same dataset, workers started without a seed for a dataset whose ``__getitem__``
draws random numbers."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from dlpilot.tools.inspect.code._names import (
    Role,
    base_name,
    const_str,
    dotted,
    has_star_kwargs,
    is_false,
    kwarg,
    last_name,
)
from dlpilot.tools.inspect.code.setup.facts._context import Scope, WalkContext, expr_role

_SHUFFLE_ELSEWHERE = re.compile(
    r"(?<![\w=])shuffle\(|IterableDataset|streaming\s*=\s*True|webdataset|\bwds\."
)
_RNG_METHODS = frozenset(
    {
        "random",
        "rand",
        "randn",
        "randint",
        "integers",
        "uniform",
        "normal",
        "choice",
        "shuffle",
        "permutation",
        "sample",
        "beta",
        "binomial",
        "poisson",
        "randrange",
        "gauss",
        "standard_normal",
    }
)


@dataclass(slots=True)
class _Loader:
    line: int
    role: Role | None
    dataset: ast.expr | None
    dataset_key: str  # ast dump of the dataset expression, "" if unknown
    scope_key: str
    sampled: bool


class LoaderFacts(WalkContext):
    """Collects ``shuffle_issues``, ``worker_loaders``, ``random_datasets`` and the loader part of
    ``overlap_issues``."""

    def _init_loaders(self) -> None:
        self.loaders: list[_Loader] = []
        self.int_defaults: dict[str, int] = {}
        self.getitem_random: list[tuple[str, int]] = []

    def _int_default(self, names: list[str], value: ast.expr) -> None:
        if len(names) == 1 and isinstance(value, ast.Constant) and type(value.value) is int:
            self.int_defaults[names[0]] = value.value

    def _argparse_default(self, call: ast.Call) -> None:
        default = kwarg(call, "default")
        if not (isinstance(default, ast.Constant) and type(default.value) is int):
            return
        dest = const_str(kwarg(call, "dest"))
        if dest is None:
            longs = [s for a in call.args if (s := const_str(a)) and s.startswith("--")]
            if not longs:
                return
            dest = longs[0][2:].replace("-", "_")
        self.int_defaults[dest] = default.value

    def _workers(self, node: ast.expr | None) -> int | None:
        """The number of loader workers when it can be read statically; ``None`` if unknown."""
        if node is None:
            return 0
        if isinstance(node, ast.Constant):
            return node.value if type(node.value) is int else None
        if isinstance(node, ast.Name | ast.Attribute):
            key = node.id if isinstance(node, ast.Name) else node.attr
            return self.int_defaults.get(key)
        if isinstance(node, ast.Call) and last_name(node.func) == "cpu_count":
            return 2
        return None

    def _loader(self, call: ast.Call, scope: Scope) -> None:
        dataset = call.args[0] if call.args else kwarg(call, "dataset")
        shuffle = call.args[2] if len(call.args) > 2 else kwarg(call, "shuffle")
        sampler = call.args[3] if len(call.args) > 3 else kwarg(call, "sampler")
        sampled = not is_false(sampler) if sampler is not None else False
        batch_sampler = kwarg(call, "batch_sampler")
        if batch_sampler is not None and not is_false(batch_sampler):
            sampled = True
        star = has_star_kwargs(call) or any(isinstance(a, ast.Starred) for a in call.args)
        r = self._role() or (expr_role(dataset) if dataset is not None else None)
        scope_key = str(id(scope))
        if dataset is not None and base_name(dataset) == "self":
            scope_key = "class:" + scope.cls
        self.loaders.append(
            _Loader(
                call.lineno,
                r,
                dataset,
                ast.dump(dataset) if dataset is not None and not star else "",
                scope_key,
                sampled or star,
            )
        )
        if (
            r == "train"
            and not star
            and not sampled
            and (shuffle is None or is_false(shuffle))
            and _SHUFFLE_ELSEWHERE.search(self.f.text) is None
        ):
            why = "shuffle=False" if shuffle is not None else "no shuffle=True and no sampler"
            what = self._ctx_name() or (dotted(dataset) if dataset is not None else "")
            self.facts.shuffle_issues.append((call.lineno, what, why))
        workers = self._workers(call.args[5] if len(call.args) > 5 else kwarg(call, "num_workers"))
        if (
            workers
            and workers > 0
            and not star
            and kwarg(call, "worker_init_fn") is None
            and kwarg(call, "generator") is None
            and dataset is not None
        ):
            cls = self._dataset_class(dataset, scope, call.lineno, 0)
            if cls:
                self.facts.worker_loaders.append((call.lineno, cls))

    def _dataset_class(self, node: ast.expr, scope: Scope, line: int, depth: int) -> str:
        if depth > 3:
            return ""
        if isinstance(node, ast.Call):
            name = last_name(node.func)
            if name in ("random_split", "Subset", "ConcatDataset") and node.args:
                return self._dataset_class(node.args[0], scope, line, depth + 1)
            return name
        value = self._lookup(node, scope, line)
        if value is None:
            return ""
        return self._dataset_class(value, scope, line, depth + 1)

    def _dataset_randomness(self, scope: Scope, cls: str, line: int) -> None:
        for call in scope.calls:
            func = call.func
            d = dotted(func)
            head = d.split(".")[0]
            if (
                head == "random"
                or d.startswith(("np.random.", "numpy.random."))
                or (
                    isinstance(func, ast.Attribute)
                    and "rng" in dotted(func.value).lower()
                    and func.attr in _RNG_METHODS
                )
            ):
                self.getitem_random.append((cls, line))
                return

    def _loader_overlap(self) -> None:
        by_key: dict[tuple[str, str], list[_Loader]] = {}
        for ld in self.loaders:
            if ld.dataset_key and ld.role is not None and not ld.sampled:
                by_key.setdefault((ld.scope_key, ld.dataset_key), []).append(ld)
        for group in by_key.values():
            roles = {ld.role for ld in group}
            if roles == {"train", "eval"}:
                e = next(ld for ld in group if ld.role == "eval")
                assert e.dataset is not None
                name = dotted(e.dataset) or "dataset"
                self.facts.overlap_issues.append(
                    (e.line, f"training and held-out loaders read the same {name} without a split")
                )

    def _finish_loaders(self) -> None:
        if self.need.loaders:
            self._loader_overlap()
        for cls, line in self.getitem_random:
            self.facts.random_datasets.append((cls, line))


__all__ = ["LoaderFacts"]
