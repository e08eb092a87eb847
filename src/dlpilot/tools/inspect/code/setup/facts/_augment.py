"""Random augmentation where held-out data is built: in an evaluation pipeline, a dataset made for
evaluation with a random transform, or a randomly transformed dataset split into training and
held-out parts."""

from __future__ import annotations

import ast

from dlpilot.tools.inspect.code._names import const_str, dotted, kwarg, last_name, role
from dlpilot.tools.inspect.code.setup.facts._context import Assign, Scope, WalkContext

_RANDOM_NOT_AUG = frozenset({"RandomSampler", "RandomState", "Random", "RandomDataset"})
_AUG_OPS = frozenset(
    {
        "ColorJitter",
        "RandAugment",
        "AutoAugment",
        "TrivialAugmentWide",
        "AugMix",
        "HorizontalFlip",
        "VerticalFlip",
        "ShiftScaleRotate",
        "CoarseDropout",
        "Cutout",
        "GaussNoise",
        "ElasticTransform",
        "HueSaturationValue",
        "MixUp",
        "Mixup",
        "CutMix",
        "RandAug",
        "Flip",
        "Rotate",
        "Affine",
    }
)


class AugmentFacts(WalkContext):
    """Collects ``augment_issues``."""

    def _init_augment(self) -> None:
        self.random_names: set[tuple[int, str]] = set()  # (id of scope, name) of random pipelines
        self.random_datasets: set[tuple[int, str]] = set()

    def _augment(self, call: ast.Call, name: str, scope: Scope) -> None:
        if _is_random_aug(name, call):
            for rec in self.assigning[-1:]:
                for n in rec.names:
                    self.random_names.add((id(scope), n))
            if self._role() == "eval":
                where = self._ctx_name()
                self.facts.augment_issues.append(
                    (call.lineno, f"random augmentation {name} in the pipeline of {where!r}")
                )
            return
        tf = kwarg(call, "transform") or kwarg(call, "transforms")
        if tf is None and name in ("ImageFolder", "DatasetFolder") and len(call.args) > 1:
            tf = call.args[1]
        if tf is None:
            return
        tf_random = _is_random_inline(tf) or self._is_random_name(tf, scope)
        if not tf_random:
            return
        for rec in self.assigning[-1:]:
            for n in rec.names:
                self.random_datasets.add((id(scope), n))
        if self._call_is_eval(call):
            self.facts.augment_issues.append(
                (
                    call.lineno,
                    f"{name} builds held-out data with the random transform "
                    f"{dotted(tf) or 'pipeline'}",
                )
            )

    def _is_random_name(self, node: ast.expr, scope: Scope) -> bool:
        if isinstance(node, ast.Name | ast.Attribute):
            key = node.id if isinstance(node, ast.Name) else node.attr
            if (id(scope), key) in self.random_names or (id(self.module), key) in self.random_names:
                return True
            return role(key) == "train" and any(
                w in key.lower() for w in ("transform", "tf", "aug")
            )
        return False

    def _call_is_eval(self, call: ast.Call) -> bool:
        if self._role() == "eval":
            return True
        for key in ("train", "is_train", "training", "is_training"):
            v = kwarg(call, key)
            if isinstance(v, ast.Constant) and v.value is False:
                return True
        for key in ("split", "mode", "stage", "subset", "phase"):
            if role(const_str(kwarg(call, key))) == "eval":
                return True
        if call.args:
            for sub in ast.walk(call.args[0]):
                s = const_str(sub) if isinstance(sub, ast.expr) else None
                if s is not None and role(s) == "eval":
                    return True
        return False

    def _split_of_random_dataset(self, rec: Assign, value: ast.Call, sc: Scope) -> None:
        if not value.args or not any(role(n) == "eval" for n in rec.names):
            return
        src = value.args[0]
        if not isinstance(src, ast.Name):
            return
        if (id(sc), src.id) not in self.random_datasets and (
            id(self.module),
            src.id,
        ) not in self.random_datasets:
            return
        if ".transform =" in self.f.text or ".transform=" in self.f.text:
            return
        self.facts.augment_issues.append(
            (
                rec.line,
                f"{src.id} has a random transform and is split: the held-out part keeps it",
            )
        )

    def _finish_augment(self) -> None:
        for rec, value, sc in self.split_calls:
            self._split_of_random_dataset(rec, value, sc)


def _is_random_aug(name: str, call: ast.Call) -> bool:
    if name.startswith("Random") and name not in _RANDOM_NOT_AUG and not name.endswith("Sampler"):
        return True
    if name in _AUG_OPS:
        p = kwarg(call, "p")
        return not (isinstance(p, ast.Constant) and p.value in (0, 1, 0.0, 1.0))
    return False


def _is_random_inline(node: ast.expr) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _is_random_aug(last_name(sub.func), sub):
            return True
    return False


__all__ = ["AugmentFacts"]
