"""Pruning pays: a round pruned with ASHA against an unpruned random round, on real curves.

    .venv/bin/python benchmarks/bench_pruning.py [--repeats 20] [--trials 48]
    .venv/bin/python benchmarks/bench_pruning.py --record   # re-record the curves (~2 minutes)

The curves are real: ``--record`` trains a small MLP (two hidden layers of ``width`` units, ReLU,
SGD with momentum 0.9, batch 64) on scikit-learn's shipped 8x8 digits (1,797 images, 10 classes,
1,200 for training and the rest for validation) at every point of a learning-rate x width grid
(8 x 6 = 48 configurations), each with 3 initialization / shuffling seeds, and keeps the
validation loss and accuracy and the mean training loss after every epoch. They are stored in
``benchmarks/data/pruning_curves.json.gz`` (a diverged epoch's loss is stored as null), so the
benchmark itself needs neither torch nor scikit-learn.

The replay: each round asks Optuna for ``--trials`` trials over the same grid (``lr`` and
``width`` as categorical parameters, a ``RandomSampler`` with the round's seed); a trial is the
recorded curve of its configuration (its seed copy chosen by the trial number), reported epoch by
epoch as intermediate values. The unpruned round runs every trial to the end; the pruned round
asks a ``SuccessiveHalvingPruner`` (asynchronous successive halving, ``min_resource=1`` epoch,
``reduction_factor=3``) after each epoch and stops the trial when told. Both rounds of a repeat use
the same sampler seed, so they see the same configurations in the same order: the difference is the
pruning alone. The objective is the best validation loss of a trial (``take = "best"``); a trial
whose loss goes non-finite ends there as infeasible (its value is its best finite loss).

Figure: the training steps the pruned round had spent when one of its trials first reached the
best value of the unpruned round, as a share of the unpruned round's steps (target <= 1/3); a
repeat where the pruned round never reached it counts its whole spend and is reported apart.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "pruning_curves.json.gz"
LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
WIDTHS = [8, 16, 32, 64, 128, 256]
SEEDS = [0, 1, 2]
EPOCHS = 40
BATCH = 64
N_TRAIN = 1200


# --- recording (torch and scikit-learn, only with --record) ---------------------------------


def _train(lr: float, width: int, seed: int, data: Any) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import functional as F

    x_tr, y_tr, x_va, y_va = data
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(1000 + seed)
    steps_per_epoch = math.ceil(x_tr.shape[0] / BATCH)
    val_loss: list[float | None] = []
    val_acc: list[float | None] = []
    train_loss: list[float | None] = []
    diverged = False
    for _ in range(EPOCHS):
        if diverged:
            break
        model.train()
        order = torch.randperm(x_tr.shape[0], generator=g)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * BATCH : (i + 1) * BATCH]
            loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss)
        model.eval()
        with torch.no_grad():
            out = model(x_va)
            vl = float(F.cross_entropy(out, y_va))
            va = float((out.argmax(1) == y_va).float().mean())
        finite = math.isfinite(vl) and math.isfinite(total)
        train_loss.append(total / steps_per_epoch if math.isfinite(total) else None)
        val_loss.append(vl if finite else None)
        val_acc.append(va if finite else None)
        diverged = not finite
    return {
        "lr": lr,
        "width": width,
        "seed": seed,
        "steps_per_epoch": steps_per_epoch,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "train_loss": train_loss,
    }


def record(path: Path = DATA) -> None:
    import torch
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    mean, std = x[:N_TRAIN].mean(0), x[:N_TRAIN].std(0) + 1e-3
    x = (x - mean) / std
    data = (x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])
    t0 = time.perf_counter()
    runs = [_train(lr, w, s, data) for lr in LRS for w in WIDTHS for s in SEEDS]
    meta = {
        "dataset": "sklearn load_digits, 1200 train / 597 val, standardized",
        "model": "MLP 64-width-width-10, ReLU, SGD momentum 0.9, batch 64",
        "epochs": EPOCHS,
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d"),
        "seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump({"meta": meta, "runs": runs}, fh, separators=(",", ":"))
    print(f"recorded {len(runs)} runs in {meta['seconds']} s to {path}")


def load_curves(path: Path = DATA) -> dict[str, Any]:
    """The recorded curves: ``{"meta": ..., "runs": [{"lr", "width", "seed", "steps_per_epoch",
    "val_loss", "val_acc", "train_loss"}]}``; a null (diverged) value becomes NaN."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    for run in data["runs"]:
        for key in ("val_loss", "val_acc", "train_loss"):
            run[key] = [math.nan if v is None else float(v) for v in run[key]]
    return data


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    if args.record:
        record()
