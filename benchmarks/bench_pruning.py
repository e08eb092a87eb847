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
import itertools
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


def _r(x: float) -> float:
    """Six significant digits: far below the seed-to-seed noise, and a small fixture."""
    return float(f"{x:.6g}")


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
            total += float(loss.detach())
        model.eval()
        with torch.no_grad():
            out = model(x_va)
            vl = float(F.cross_entropy(out, y_va))
            va = float((out.argmax(1) == y_va).float().mean())
        finite = math.isfinite(vl) and math.isfinite(total)
        train_loss.append(_r(total / steps_per_epoch) if math.isfinite(total) else None)
        val_loss.append(_r(vl) if finite else None)
        val_acc.append(_r(va) if finite else None)
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


# --- replay (optuna only) ---------------------------------------------------------------------


def replay(
    data: dict[str, Any],
    trials: int,
    seed: int,
    *,
    pruned: bool,
    eta: int = 3,
    min_resource: int = 1,
    until: float | None = None,
    budget: int | None = None,
) -> dict[str, Any]:
    """One round over the recorded grid; returns its spend and its best value over time:
    ``trace`` is a list of (steps spent so far, best value so far), one entry per epoch run.
    With ``until``, the round goes on past ``trials`` until its best reaches ``until`` or it has
    spent ``budget`` steps."""
    import optuna

    runs = {(r["lr"], r["width"], r["seed"]): r for r in data["runs"]}
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource, reduction_factor=eta)
        if pruned
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner
    )
    spent, best = 0, math.inf
    trace: list[tuple[int, float]] = []
    states: dict[str, int] = {}
    number = -1
    while True:
        number += 1
        if until is None and number >= trials:
            break
        if until is not None and (best <= until or (budget is not None and spent >= budget)):
            break
        trial = study.ask()
        lr = trial.suggest_categorical("lr", LRS)
        width = trial.suggest_categorical("width", WIDTHS)
        run = runs[(lr, width, SEEDS[number % len(SEEDS)])]
        own = math.inf
        state = "complete"
        for epoch, value in enumerate(run["val_loss"], 1):
            spent += run["steps_per_epoch"]
            if not math.isfinite(value):
                state = "infeasible"
                break
            own = min(own, value)
            best = min(best, value)
            trace.append((spent, best))
            trial.report(value, epoch)
            if trial.should_prune():
                state = "pruned"
                break
        if len(run["val_loss"]) < EPOCHS and state == "complete":
            state = "infeasible"  # the recording stopped at the first non-finite epoch
        if state == "complete":
            study.tell(trial, own)
        elif state == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        states[state] = states.get(state, 0) + 1
    return {"spent": spent, "best": best, "trace": trace, "states": states, "trials": number}


def seed_noise(data: dict[str, Any], share: float = 0.25) -> float:
    """The pooled seed-to-seed std of a configuration's best validation loss, over the best
    ``share`` of the configurations (by their mean): the noise a "reached" is judged within."""
    by_cfg: dict[tuple[float, int], list[float]] = {}
    for r in data["runs"]:
        finite = [v for v in r["val_loss"] if math.isfinite(v)]
        if finite and len(r["val_loss"]) == EPOCHS:
            by_cfg.setdefault((r["lr"], r["width"]), []).append(min(finite))
    groups = sorted((g for g in by_cfg.values() if len(g) >= 2), key=statistics.fmean)
    top = groups[: max(1, int(len(groups) * share))]
    ss = sum(statistics.variance(g) * (len(g) - 1) for g in top)
    return math.sqrt(ss / sum(len(g) - 1 for g in top))


def compare(
    data: dict[str, Any],
    trials: int,
    seed: int,
    eta: int = 3,
    min_resource: int = 1,
    tolerance: float = 0.0,
) -> dict[str, Any]:
    """The unpruned round of one seed against two pruned ones: of the same size (``same``), and
    one that goes on with new trials until it reaches the unpruned best or spends the unpruned
    round's steps (``more``). Shares are of the unpruned round's steps; "reached" means a best
    value at most ``tolerance`` above the unpruned round's."""
    full = replay(data, trials, seed, pruned=False)
    same = replay(data, trials, seed, pruned=True, eta=eta, min_resource=min_resource)
    more = replay(
        data,
        trials,
        seed,
        pruned=True,
        eta=eta,
        min_resource=min_resource,
        until=full["best"] + tolerance,
        budget=full["spent"],
    )
    target = full["best"] + tolerance
    reached = next((s for s, b in same["trace"] if b <= target), None)
    reached_more = next((s for s, b in more["trace"] if b <= target), None)
    return {
        "seed": seed,
        "unpruned_best": full["best"],
        "same_best": same["best"],
        "same_reached": reached is not None,
        "same_share_to_reach": None if reached is None else reached / full["spent"],
        "same_share": same["spent"] / full["spent"],
        "more_reached": reached_more is not None,
        "more_share_to_reach": None if reached_more is None else reached_more / full["spent"],
        "more_trials": more["trials"],
    }


def _machine() -> str:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")),
            "",
        )
    except OSError:
        pass
    cpu = model or platform.processor()
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def _stats(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"median {statistics.median(xs):.3f}, max {max(xs):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", action="store_true", help="re-record the curves first")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--trials", type=int, default=48)
    ap.add_argument("--eta", type=int, default=3, help="ASHA's reduction factor")
    ap.add_argument("--min-resource", type=int, nargs="+", default=[1, 2, 4], help="in epochs")
    args = ap.parse_args()
    if args.record:
        record()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_curves()
    print(
        f"machine: {_machine()}; optuna {optuna.__version__}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"curves: {data['meta']}")
    noise = seed_noise(data)
    print(f"{args.repeats} repeats (sampler seeds) x {args.trials} trials, ASHA eta={args.eta}")
    print(f"seed-to-seed std of the best configurations' best val/loss: {noise:.4f}")
    print()
    print(
        "| min_resource (epochs) | reached: exactly or within the seed std | "
        "same size: reached | same size: steps to reach | "
        "same size: whole round | go on: reached | go on: steps to reach | go on: trials |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for mr, (label, tol) in itertools.product(
        args.min_resource, (("exactly", 0.0), ("within std", noise))
    ):
        t0 = time.perf_counter()
        rows = [compare(data, args.trials, s, args.eta, mr, tol) for s in range(args.repeats)]
        same = [r["same_share_to_reach"] for r in rows if r["same_reached"]]
        more = [r["more_share_to_reach"] for r in rows if r["more_reached"]]
        print(
            f"| {mr} | {label} | {len(same)}/{len(rows)} | {_stats(same)} | "
            f"{_stats([r['same_share'] for r in rows])} | {len(more)}/{len(rows)} | "
            f"{_stats(more)} | {_stats([float(r['more_trials']) for r in rows])} |"
        )
        gaps = [r["same_best"] - r["unpruned_best"] for r in rows if not r["same_reached"]]
        if gaps:
            print(
                f"<!-- min_resource {mr}, {label}: same-size rounds that missed were worse "
                f"by median "
                f"{statistics.median(gaps):.4f} (max {max(gaps):.4f}); "
                f"{time.perf_counter() - t0:.1f} s -->"
            )


if __name__ == "__main__":
    main()
