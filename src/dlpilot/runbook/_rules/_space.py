"""Which flags answer which question, and search spaces around the baseline (seed 001 §3.2, §4.1,
§5.1, §5.2).

Flags are recognised by what their names mean (``width``, ``hidden_size`` and ``num_layers`` size a
model; ``dropout`` and ``weight_decay`` regularize; ``warmup`` and ``clip`` stabilize), never by a
particular project's spelling alone.
"""

from __future__ import annotations

import math
import re
from typing import Any

from dlpilot.runbook._rules._flags import Flag

LR_DECADES = 1.0
"""Half-width of the learning-rate range in decades: the baseline's lr times 10^-1 .. 10^1."""

_WORDS = {
    "lr": ("lr", "learning_rate", "learningrate", "base_lr", "max_lr", "peak_lr"),
    "size": ("width", "hidden", "hidden_size", "hidden_dim", "d_model", "dim", "embed_dim",
             "channels", "base_channels", "depth", "layers", "num_layers", "n_layers", "n_layer",
             "n_embd", "filters", "units", "n_heads", "num_heads", "model_size"),
    "length": ("epochs", "num_epochs", "max_epochs", "steps", "max_steps", "train_steps",
               "iters", "max_iters", "iterations", "n_epochs"),
    "dropout": ("dropout", "drop", "dropout_rate", "p_dropout", "attn_dropout", "drop_rate"),
    "decay": ("weight_decay", "wd", "l2", "l2_reg", "decay"),
    "smoothing": ("label_smoothing", "smoothing"),
    "augment": ("augment", "aug", "augmentation", "mixup", "cutmix", "randaugment"),
    "warmup": ("warmup", "warmup_steps", "warmup_epochs", "warmup_ratio", "warmup_iters"),
    "clip": ("clip", "clip_grad", "clip_grad_norm", "grad_clip", "max_grad_norm", "clip_norm"),
    "data": ("n_train", "train_size", "num_train", "train_samples", "max_train_samples",
             "data_fraction", "train_fraction", "subset"),
    "batch": ("batch_size", "bs", "train_batch_size", "per_device_train_batch_size"),
}  # fmt: skip


def kind_of(flag: Flag) -> str | None:
    """What a flag does, from its name: lr, size, length, dropout, decay, smoothing, augment,
    warmup, clip, data, batch; None when unknown."""
    name = re.sub(r"[^a-z0-9]+", "_", flag.dest.lower().split(".")[-1]).strip("_")
    for kind, words in _WORDS.items():
        if name in words:
            return kind
    for kind, words in _WORDS.items():
        if kind != "size" and any(
            name.endswith("_" + w) or name.startswith(w + "_") for w in words
        ):
            return kind
    return None


# the groups of seed 001 section 4.1 / 5.2 in the order the rules try them, per bottleneck
TARGETS: dict[str, list[tuple[str, str, str]]] = {
    "bias": [
        ("size", "Does a larger model help, with the learning rate tuned?", "001 §4.1: high bias "
         "-> larger / deeper models"),
        ("length", "Does training longer help, with the learning rate tuned?", "001 §4.1: high "
         "bias -> train longer"),
        ("decay", "Does less weight decay help?", "001 §4.1: high bias -> reduce regularization"),
        ("dropout", "Does less dropout help?", "001 §4.1: high bias -> reduce regularization"),
        ("lr", "What learning rate range trains best?", "001 §3.1, §4.1: slightly increase lr"),
    ],
    "variance": [
        ("dropout", "Does more dropout help, with the learning rate tuned?", "001 §4.1: high "
         "variance -> stronger regularization (dropout)"),
        ("decay", "Does stronger weight decay help, with the learning rate tuned?", "001 §4.1: "
         "high variance -> stronger regularization (L2)"),
        ("augment", "Does data augmentation help?", "001 §4.1: high variance -> augmentation"),
        ("smoothing", "Does label smoothing help?", "001 §4.1: high variance -> regularization"),
        ("data", "Does more training data help?", "001 §4.1: high variance -> more data"),
        ("size", "Does a smaller model help?", "001 §4.1: high variance -> smaller capacity"),
    ],
    "mismatch": [
        ("data", "Does more (or differently drawn) training data close the gap to dev/test?",
         "001 §4.1: data mismatch -> training data closer to dev/test"),
        ("augment", "Does augmentation toward the dev/test conditions help?", "001 §4.1: data "
         "mismatch -> domain adaptation"),
        ("decay", "Does stronger regularization help on the shifted data?", "001 §4.1"),
    ],
    "stability": [
        ("warmup", "Does a longer learning-rate warmup remove the instability?", "001 §5.2: "
         "mitigation order 1, LR warmup"),
        ("clip", "Does gradient clipping remove the instability?", "001 §5.2: mitigation order 2, "
         "gradient clipping"),
        ("lr", "Does a lower peak learning rate remove the instability?", "001 §5.2: last resort, "
         "lower peak lr"),
    ],
    "data": [
        ("data", "How does the dev metric grow with the amount of training data?", "001 §4.1, "
         "§4.2: more / cleaner data"),
        ("augment", "Does data augmentation help?", "001 §4.1"),
    ],
}  # fmt: skip


def choose_targets(bottleneck: str, flags: list[Flag]) -> tuple[list[str], str, str]:
    """The flags this round compares (one group, at most two flags), its question and the seed
    rule it follows. No fitting flag -> no target, and the question is about the code or data."""
    for kind, question, seed in TARGETS.get(bottleneck, []):
        hits = [f.dest for f in flags if kind_of(f) == kind]
        if hits:
            return hits[:2], question, seed
    return [], "", ""


def space(
    flag: Flag, role: str, bottleneck: str, lr_hint: dict[str, float] | None = None
) -> dict[str, Any]:
    """A search space (the round file's parameter fields) for ``flag`` around its default."""
    base = flag.default
    kind = kind_of(flag)
    if flag.type == "str" and flag.choices:
        return {"role": role, "type": "categorical", "choices": list(flag.choices)}
    if isinstance(base, bool) or not isinstance(base, int | float):
        return {"role": "fixed", "type": "fixed", "value": base}
    if flag.type == "int":
        low, high, log = _int_range(int(base), kind, bottleneck)
        return {"role": role, "type": "int", "low": low, "high": high, "log": log}
    low_f, high_f, log = _float_range(float(base), kind, bottleneck, lr_hint)
    return {"role": role, "type": "float", "low": _round(low_f), "high": _round(high_f), "log": log}


def _int_range(base: int, kind: str | None, bottleneck: str) -> tuple[int, int, bool]:
    if kind == "size":
        if bottleneck == "variance":
            return max(1, base // 4), max(base, 2), base >= 4
        return max(1, base), max(base * 4, base + 1), True
    if kind == "length":
        return max(1, base), max(base * 3, base + 1), False
    if kind == "warmup":
        return 0, max(base * 4, 100), False
    if kind == "data":
        return max(1, base // 8), max(base, 2), True
    if base <= 0:
        return 0, 10, False
    return max(1, base // 2), max(base * 2, base + 1), base >= 4


def _float_range(
    base: float, kind: str | None, bottleneck: str, lr_hint: dict[str, float] | None
) -> tuple[float, float, bool]:
    if kind == "lr" and base > 0:
        low, high = base / 10**LR_DECADES, base * 10**LR_DECADES
        if lr_hint and lr_hint.get("suggestion"):
            s = lr_hint["suggestion"]
            low = min(base, s) / math.sqrt(10)
            high = max(base, s) * math.sqrt(10)
            cap = lr_hint.get("min_loss_lr")
            if cap and low < cap < high:
                high = max(cap, base)
        if bottleneck == "stability":
            high = base  # section 5.2: the peak only comes down
            low = base / 10**LR_DECADES
        return low, high, True
    if kind == "dropout" or kind == "smoothing":
        top = 0.3 if kind == "smoothing" else 0.7
        if bottleneck == "variance":
            return base, min(top, max(base + 0.3, base * 2)), False
        if bottleneck == "bias" and base > 0:
            return 0.0, base, False
        return 0.0, min(top, max(0.5, base * 2)), False
    if kind == "decay":
        if base <= 0:
            return 1e-6, 1e-2, True
        if bottleneck == "variance":
            return base, base * 100, True
        if bottleneck == "bias":
            return base / 100, base, True
        return base / 10, base * 10, True
    if kind == "clip":
        b = base if base > 0 else 1.0
        return b / 10, b * 10, True
    if kind == "warmup" and base < 1:  # a ratio
        return 0.0, min(0.5, max(0.1, base * 4)), False
    if kind == "data" and 0 < base <= 1:  # a fraction of the training set
        return base / 8, base, True
    if base > 0:
        return base / 10, base * 10, True
    return 0.0, 1.0, False


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def near_edge(value: float, low: float, high: float, log: bool, margin: float = 0.05) -> str | None:
    """``low`` / ``high`` when ``value`` lies within ``margin`` of that end of the range (on the
    log scale for log ranges), seed 001 section 3.3's boundary check."""
    if log and low > 0 and value > 0:
        value, low, high = math.log(value), math.log(low), math.log(high)
    if high <= low:
        return None
    position = (value - low) / (high - low)
    if position <= margin:
        return "low"
    if position >= 1 - margin:
        return "high"
    return None


__all__ = ["LR_DECADES", "TARGETS", "choose_targets", "kind_of", "near_edge", "space"]
