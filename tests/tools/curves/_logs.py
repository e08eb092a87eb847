"""Write a ``_training.Log`` the way common loggers do: JSONL, a CSV with a step column, a Keras
``history.csv`` (epoch rows), TensorBoard event files (one writer per segment, as a resumed run
opens a new one), ``add_scalars`` sub-directories, and a Hugging Face ``trainer_state.json``.

``rename`` maps the log's own metric names (``train_loss``, ``val_acc`` ...) to the names a logger
would use; metrics it maps to ``None`` are left out.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from ._training import Event, Log

Rename = Callable[[str], str | None]


def _same(name: str) -> str | None:
    return name


def _rows(events: list[Event], rename: Rename) -> list[tuple[int, dict[str, float]]]:
    out = []
    for step, metrics in events:
        row = {n: v for k, v in metrics.items() if (n := rename(k)) is not None}
        if row:
            out.append((step, row))
    return out


def write_jsonl(log: Log, path: Path, rename: Rename = _same, step_key: str = "step") -> Path:
    with path.open("w") as f:
        for step, row in _rows(log.events, rename):
            f.write(json.dumps({step_key: step, **row}) + "\n")
    return path


def write_csv(log: Log, path: Path, rename: Rename = _same, step_key: str = "step") -> Path:
    rows = _rows(log.events, rename)
    keys: list[str] = []
    for _, row in rows:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([step_key, *keys])
        for step, row in rows:
            w.writerow([step, *(row.get(k, "") for k in keys)])
    return path


KERAS = {
    "train_loss": "loss",
    "train_acc": "accuracy",
    "val_loss": "val_loss",
    "val_acc": "val_accuracy",
}


def write_keras_history(log: Log, path: Path) -> Path:
    """``CSVLogger`` / ``pd.DataFrame(history.history).to_csv``: one row per epoch."""
    return write_csv(log, path, KERAS.get, step_key="epoch")


def write_tensorboard(log: Log, logdir: Path, rename: Rename = _same) -> Path:
    """One ``SummaryWriter`` per segment in one directory, tags ``Loss/train`` style."""
    from torch.utils.tensorboard import SummaryWriter

    for segment in log.segments:
        with SummaryWriter(str(logdir)) as w:
            for step, row in _rows(segment, rename):
                for k, v in row.items():
                    w.add_scalar(k, v, step)
    return logdir


def write_add_scalars(log: Log, logdir: Path, keys: dict[str, str]) -> Path:
    """``writer.add_scalars(quantity, {key: value, ...}, step)``: ``keys`` maps the log's split
    prefix (``train``, ``trainset``, ``val`` ...) to the dict key the script used."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(logdir)) as w:
        for step, metrics in log.events:
            groups: dict[str, dict[str, float]] = {}
            for k, v in metrics.items():
                split, _, q = k.rpartition("_")
                if split in keys:
                    groups.setdefault({"acc": "accuracy"}.get(q, q), {})[keys[split]] = v
            for q, values in groups.items():
                w.add_scalars(q, values, step)
    return logdir


HF = {"train_loss": "loss", "val_loss": "eval_loss", "val_acc": "eval_accuracy"}


def write_hf_state(log: Log, outdir: Path) -> Path:
    """``trainer_state.json`` with every segment's entries in ``log_history`` (train logs carry
    ``loss``, evaluations ``eval_*``)."""
    history: list[dict[str, float | int]] = []
    for step, metrics in log.events:
        train = {HF[k]: v for k, v in metrics.items() if k == "train_loss"}
        evals = {HF[k]: v for k, v in metrics.items() if k in HF and k != "train_loss"}
        if train:
            history.append({"step": step, "epoch": 0.0, **train})
        if evals:
            history.append({"step": step, "epoch": 0.0, **evals})
    last = max((s for s, _ in log.events), default=0)
    outdir.mkdir(parents=True, exist_ok=True)
    state = {"global_step": last, "log_history": history}
    (outdir / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    return outdir
