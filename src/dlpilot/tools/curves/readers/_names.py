"""Metric-name normalization: many spellings of one metric map to one canonical name.

Canonical names are ``<phase>/<metric>``: phase is ``train``, ``val``, ``test`` or ``train-dev``
(a held-out slice of the training distribution, as in bias / variance / mismatch analysis); metric
is ``loss``, ``acc``, ``error`` or the metric's own lowercased name. A few names have no phase:
``lr``, ``grad_norm``, ``epoch``, ``step``.

Examples::

    loss, train_loss, training_loss, Loss/train, train_loss_step   -> train/loss
    train_loss_epoch                                                -> train/loss_epoch
    val_loss, valid_loss, validation_loss, eval_loss, dev_loss      -> val/loss
    train_dev_loss, train-dev_loss, traindev_loss, holdout_train_loss -> train-dev/loss
    acc, accuracy, val_acc, eval_accuracy                           -> train/acc, val/acc
    err, error_rate, val_error                                      -> train/error, val/error
    learning_rate, lr, lr-AdamW, train/learning_rate                -> lr
    lr-AdamW/pg2                                                    -> lr/pg2
    Perplexity/Val                                                  -> val/perplexity
    Throughput.Samples                                              -> throughput/samples
    epoch_loss, epoch_accuracy (Keras' TensorBoard callback)        -> train/loss, train/acc

A bare loss, accuracy or error (no phase word) is a training metric, as Keras, HF Trainer and most
scripts log it. Lightning's ``_step`` suffix (the per-step value) is dropped; ``_epoch`` (the epoch
mean) is kept, so the two stay distinct.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SPLIT = re.compile(r"[/_\-\s.:]+")
_PHASES = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
_METRICS = {
    "loss": "loss",
    "losses": "loss",
    "acc": "acc",
    "accuracy": "acc",
    "acc1": "acc",
    "top1": "acc",
    "err": "error",
    "error": "error",
    "errors": "error",
}
_PHASED_BY_DEFAULT = {"loss", "acc", "error"}
_LR = {"lr", "learningrate"}
_PG = re.compile(r"pg\d+")


@lru_cache(maxsize=4096)
def normalize_metric_name(name: str) -> str:
    """The canonical name of a logged metric (see the module docstring); never empty."""
    lowered = name.strip().lower()
    tokens = [t for t in _SPLIT.split(lowered) if t]
    if not tokens:
        return lowered or name

    if len(tokens) > 1 and tokens[0] in ("epoch", "batch") and _names_a_metric(tokens[1:]):
        tokens = tokens[1:]  # Keras writes epoch_loss / batch_loss: the prefix is the cadence
    joined = "".join(tokens)
    if tokens[0] in _LR or joined.startswith("learningrate") or _is_phase_lr(tokens):
        groups = [t for t in tokens if _PG.fullmatch(t)]
        return "lr/" + groups[0] if groups else "lr"
    if [t for t in tokens if t not in _PHASES] in (["grad", "norm"], ["gradient", "norm"]):
        return "grad_norm"
    if tokens in (["epoch"], ["step"], ["global", "step"]):
        return "step" if tokens[-1] == "step" else "epoch"

    phase = None
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        width = _train_dev_at(tokens, i) if phase is None else 0
        if width:
            phase = "train-dev"
            i += width
            continue
        if phase is None and t in _PHASES:
            phase = _PHASES[t]
        else:
            rest.append(t)
        i += 1
    if not rest:  # the name was only a phase word
        return lowered
    if len(rest) > 1 and rest[-1] == "step":
        rest = rest[:-1]
    rest = _canonical_metric(rest)
    if phase is None and rest[0] in _PHASED_BY_DEFAULT:
        phase = "train"
    if phase is None:
        return _passthrough(lowered)
    return phase + "/" + "_".join(rest)


# Spellings of the train-dev split (a held-out slice of the training distribution): one word, or
# two words in a row (``train_dev``, ``train-dev``, ``Loss/train dev``, ``holdout_train``).
_TRAIN_DEV_WORDS = frozenset({"traindev", "trainingdev", "heldouttrain", "holdouttrain"})
_TRAIN_WORDS = frozenset({"train", "training", "trn"})
_HOLDOUT_WORDS = frozenset({"holdout", "heldout"})


def _train_dev_at(tokens: list[str], i: int) -> int:
    """How many tokens from ``i`` spell the train-dev split (0 when they do not)."""
    t = tokens[i]
    if t in _TRAIN_DEV_WORDS:
        return 1
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if t in _TRAIN_WORDS and (nxt == "dev" or nxt in _HOLDOUT_WORDS):
        return 2
    if t in _HOLDOUT_WORDS and nxt in _TRAIN_WORDS:
        return 2
    return 0


def trailing_phase(name: str) -> str | None:
    """The split that the last word(s) of a name give, with words before them: a directory
    ``add_scalars`` made (``loss_val`` -> "val", ``accuracy_train_dev`` -> "train-dev"); the
    whole name when it is only a split (``validation``, ``train_dev``)."""
    tokens = [t for t in _SPLIT.split(name.strip().lower()) if t]
    for width in (2, 1):
        if len(tokens) >= width and _train_dev_at(tokens, len(tokens) - width) == width:
            return "train-dev"
    if tokens and tokens[-1] in _PHASES:
        return _PHASES[tokens[-1]]
    return None


def _names_a_metric(tokens: list[str]) -> bool:
    rest = [t for t in tokens if t not in _PHASES]
    return bool(rest) and (
        rest[0] in _METRICS or rest[0] in _LR or rest[:2] == ["learning", "rate"]
    )


def phase_of(word: str) -> str | None:
    """The split a word names (``validation`` -> ``val``), or ``None``."""
    return _PHASES.get(word.strip().lower())


def names_a_split(name: str) -> bool:
    """Whether a logged name carries its own split word (``Loss/train``, ``val_acc``)."""
    tokens = _SPLIT.split(name.strip().lower())
    return any(t in _PHASES or _train_dev_at(tokens, i) for i, t in enumerate(tokens))


def normalize_in_phase(name: str, phase: str) -> str:
    """The canonical name of a metric logged under a split's directory (Keras' ``validation/``,
    ``add_scalars``' ``loss_val/``): the directory's split applies unless the name has its own."""
    if names_a_split(name):
        return normalize_metric_name(name)
    canonical = normalize_metric_name(name)
    if canonical in ("epoch", "step") or canonical.startswith(("lr", "grad_norm")):
        return canonical
    head, sep, rest = canonical.partition("/")
    if sep and head == "train" and rest:
        return f"{phase}/{rest}"
    return f"{phase}/{canonical}"


def _is_phase_lr(tokens: list[str]) -> bool:
    rest = [t for t in tokens if t not in _PHASES]
    return bool(rest) and (rest[0] in _LR or "".join(rest).startswith("learningrate"))


def _canonical_metric(rest: list[str]) -> list[str]:
    if rest[:2] in (["error", "rate"], ["err", "rate"]):
        return ["error", *rest[2:]]
    if rest[:2] in (["top1", "acc"], ["top1", "accuracy"]):
        return ["acc", *rest[2:]]
    if rest[0] in _METRICS:
        return [_METRICS[rest[0]], *rest[1:]]
    return rest


def _passthrough(lowered: str) -> str:
    out = re.sub(r"\s+", "_", lowered)
    out = re.sub(r"[.:\\]+", "/", out)
    out = re.sub(r"/+", "/", out).strip("/")
    return out or lowered


__all__ = [
    "names_a_split",
    "normalize_in_phase",
    "normalize_metric_name",
    "phase_of",
    "trailing_phase",
]
