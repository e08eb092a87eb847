"""What the repository rules share: the "could not check" list and artifact name patterns."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from dlpilot.tools.inspect._base import Rule

ARTIFACT_DIR_NAMES = frozenset(
    {
        "data",
        "datasets",
        "checkpoints",
        "checkpoint",
        "ckpt",
        "ckpts",
        "logs",
        "runs",
        "wandb",
        "lightning_logs",
        "mlruns",
        "outputs",
        "output",
        "tb_logs",
        "saved_models",
    }
)
"""Directory names that conventionally hold data, checkpoints or logs rather than code."""

ARTIFACT_SUFFIXES = frozenset(
    {
        ".pt",
        ".pth",
        ".ckpt",
        ".safetensors",
        ".h5",
        ".hdf5",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".joblib",
        ".onnx",
        ".tfrecord",
        ".parquet",
        ".arrow",
        ".log",
    }
)
"""File suffixes of checkpoints, arrays, datasets and logs."""


def is_artifact_file(rel: str) -> bool:
    p = PurePosixPath(rel)
    return p.suffix.lower() in ARTIFACT_SUFFIXES or p.name.startswith("events.out.tfevents")


class RepoRule(Rule):
    """A repository rule; ``not_checked`` lists ``(id, reason)`` for checks it could not make
    (the runner copies them into the report)."""

    def __init__(self) -> None:
        self.not_checked: list[tuple[str, str]] = []

    def cannot_check(self, id_: str, reason: str) -> None:
        self.not_checked.append((id_, reason))


_PLACEHOLDER_WORDS = re.compile(
    r"xxx|\.\.\.|…|\*\*\*|your|change|example|placeholder|dummy|fake|redacted|todo|replace|"
    r"insert|sample|secret|password|passw|test|none|null|undefined|token|here",
    re.IGNORECASE,
)


def has_placeholder_words(value: str) -> bool:
    """``<your-key>``, ``xxx``, ``${VAR}``, ``changeme``: text that stands in for a value."""
    return any(c in value for c in "<>{}$%[]") or bool(_PLACEHOLDER_WORDS.search(value))


def looks_like_placeholder(value: str) -> bool:
    """True for values that only stand in for a credential: placeholder words, an environment
    variable's name (``HF_TOKEN``), a repeated character."""
    if has_placeholder_words(value):
        return True
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", value):  # the name of an environment variable
        return True
    return len(set(value)) <= 3


__all__ = [
    "ARTIFACT_DIR_NAMES",
    "ARTIFACT_SUFFIXES",
    "RepoRule",
    "has_placeholder_words",
    "is_artifact_file",
    "looks_like_placeholder",
]
