"""Hand-written valid answers for each step of a small project (train.py with --lr, --dropout)."""

from __future__ import annotations

from typing import Any

TASK = {"task_type": "classification", "business_goal": "read seven-segment digits"}
METRIC = {
    "metric": "val/acc",
    "direction": "maximize",
    "splits": {"train": "data.py:train", "dev": "data.py:val", "test": "data.py:test"},
}
BASELINE = {
    "exists": True,
    "source": "train.py defaults",
    "architecture": "small CNN",
    "optimizer": "AdamW",
    "batch_size": 64,
    "schedule": "cosine with warmup",
    "training_steps": "8 epochs",
    "command": "python train.py --out {trial_dir}",
    "config": {"lr": 0.003, "dropout": 0.2},
}
BOTTLENECK = {
    "bottleneck": "variance",
    "numbers": {"train_error": 0.01, "dev_error": 0.08},
    "explanation": "dev error far above train error",
}
GOAL = {"kind": "reduce-variance", "question": "does more dropout help?"}
STUDY: dict[str, Any] = {
    "params": {
        "dropout": {"role": "target", "type": "float", "low": 0.0, "high": 0.5},
        "lr": {"role": "nuisance", "type": "float", "low": 3e-4, "high": 3e-2, "log": True},
    },
    "objective": {"metric": "val/acc", "direction": "maximize"},
    "sampler": "qmc",
    "trials": 8,
}
ROUND: dict[str, Any] = {
    "round": {
        "name": "r1-dropout",
        "command": "python train.py --lr {lr} --dropout {dropout} --out {trial_dir}",
        "metrics": "{trial_dir}/metrics.jsonl",
        "objective": {"metric": "val/acc", "direction": "maximize"},
        "params": STUDY["params"],
        "trials": 8,
    }
}
ANALYSIS = {"study": "r1-dropout", "best_value": 0.95, "diagnosis": "variance"}
DECISION = {
    "promote": True,
    "reason": "0.95 vs 0.92, spread 0.005",
    "improvement": 0.03,
    "seed_spread": 0.005,
    "new_baseline": {"lr": 0.002, "dropout": 0.35},
    "next_goal": "does a wider network help?",
}

ALL = {1: TASK, 2: METRIC, 3: BASELINE, 4: BOTTLENECK, 5: GOAL, 6: STUDY, 7: ROUND, 8: ANALYSIS,
       9: DECISION}  # fmt: skip
