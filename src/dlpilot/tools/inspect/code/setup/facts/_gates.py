"""Cheap text tests that decide which topics a file's walk must look at, and where.

Most files of a large project (library code) hold nothing any setup rule reads: substring tests on
the text say so before the tree is walked. A large file is walked only at the statements whose
lines show a hint literal (``hint_lines``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATH_LITERALS = (
    "/home/",
    "/Users/",
    "/root/",
    "/scratch/",
    "/gpfs/",
    "/lustre/",
    "/content/drive/",
)
_PATH_START = re.compile(r"/(?:home|Users|root|scratch|gpfs|lustre|content/drive)/")
_AUGMENT_LITERALS = (
    "Random",
    "Compose",
    "Augment",
    "Flip",
    "Jitter",
    "CutMix",
    "MixUp",
    "Mixup",
    "train_transform",
    "transform_train",
    "train_tf",
    "tf_train",
    "train_aug",
    "aug_train",
)
_TRANSFORM_LITERALS = ("transform", "_tf", "tf_", "aug", "Aug")
_SAVE_LITERALS = (
    "torch.save(",
    "th.save(",
    "fabric.save(",
    "accelerator.save(",
    "xm.save(",
    "jit.save(",
    "save_checkpoint",
    "save_pretrained",
    "save_model",
    "save_state",
    "save_file(",
    "save_weights",
)
_STATS_LITERALS = ("fit_transform(", ".fit(", "mean(", "std(", "var(")
_TRAIN_NAME = re.compile(r"train(?:_|set|loader|ing_data)|_train\b|_trn\b")
_SPLIT_LITERALS = ("train_test_split", "random_split", ".sample(frac", "_train", "train_")
_EVAL_LITERALS = ("val", "test", "eval", "dev")


@dataclass(slots=True)
class Needs:
    training: bool
    loaders: bool
    saves: bool
    augment: bool
    leak: bool
    roles: bool
    paths: bool
    datasets: bool

    def any(self) -> bool:
        return (
            self.training
            or self.loaders
            or self.saves
            or self.augment
            or self.leak
            or self.roles
            or self.paths
            or self.datasets
        )


def needs(t: str) -> Needs:
    """Which topics the walk of a file with text ``t`` must gather."""
    has_train = "train" in t
    return Needs(
        training=(".backward(" in t and (".step(" in t or ".grad" in t))
        or "Trainer(" in t
        or "TrainingArguments(" in t
        or "manual_backward(" in t
        or ("instantiate(" in t and "trainer" in t)
        or "scaler(" in t,
        loaders="DataLoader(" in t,
        saves="save" in t and any(lit in t for lit in _SAVE_LITERALS),
        augment=any(lit in t for lit in _AUGMENT_LITERALS)
        and any(lit in t for lit in _TRANSFORM_LITERALS),
        leak=has_train
        and any(lit in t for lit in _SPLIT_LITERALS)
        and any(lit in t for lit in _STATS_LITERALS),
        roles=has_train
        and (".fit(" in t or _TRAIN_NAME.search(t) is not None)
        and any(lit in t for lit in _EVAL_LITERALS),
        paths=_PATH_START.search(t) is not None or _has_windows_drive(t),
        datasets="__getitem__" in t and "random" in t,
    )


def _has_windows_drive(t: str) -> bool:
    """A string literal that starts with a drive (``"C:\\..."``, ``'D:/...'``); no regex."""
    for sep in (":\\", ":/"):
        i = t.find(sep)
        while i >= 2:
            if t[i - 1].isalpha() and t[i - 2] in "\"'":
                return True
            i = t.find(sep, i + 2)
    return False


def hint_lines(t: str, need: Needs) -> list[int]:
    """Line numbers where a file shows something a rule looks at."""
    lits: list[str] = []
    if need.training:
        lits += (".backward(", ".step(", "Trainer(", "TrainingArguments(", "manual_backward(")
    if need.loaders:
        lits += ("DataLoader(", "add_argument", "num_workers")
    if need.saves:
        lits += _SAVE_LITERALS
    if need.augment:
        lits += _AUGMENT_LITERALS
    if need.leak:
        lits += _STATS_LITERALS
        lits += _SPLIT_LITERALS
    if need.roles:
        lits += ("train", ".fit(")
    if need.paths:
        lits += _PATH_LITERALS
        lits += (":\\", ":/")
    if need.datasets:
        lits.append("__getitem__")
    offsets: list[int] = []
    for lit in lits:
        i = t.find(lit)
        while i >= 0:
            offsets.append(i)
            i = t.find(lit, i + 1)
    offsets.sort()
    lines: list[int] = []
    line, pos = 1, 0
    for off in offsets:
        line += t.count("\n", pos, off)
        pos = off
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


__all__ = ["Needs", "hint_lines", "needs"]
