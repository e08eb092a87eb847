"""Valid answers to each step of the runbook for a small classification project (train.py with
--lr, --dropout, --out, metrics in <out>/metrics.jsonl), as a model or a test would give them."""

from __future__ import annotations

from typing import Any

TASK = {"task_type": "classification", "business_goal": "read seven-segment glyphs"}
METRIC: dict[str, Any] = {
    "metric": "val/acc",
    "direction": "maximize",
    "splits": {
        "train": "glyphs/data.py:make_splits train",
        "dev": "glyphs/data.py:make_splits val",
        "test": "glyphs/data.py:make_splits test",
    },
}
BASELINE = {
    "exists": True,
    "source": "configs/default.toml via train.py",
    "architecture": "small CNN, width 16",
    "optimizer": "AdamW",
    "batch_size": 64,
    "schedule": "linear warmup over 50 steps",
    "training_steps": "8 epochs",
    "command": "python train.py --out {trial_dir}",
    "config": {"lr": 0.003, "dropout": 0.2},
}
BOTTLENECK = {
    "bottleneck": "variance",
    "numbers": {"train_error": 0.01, "dev_error": 0.07},
    "evidence": ["e1"],
    "explanation": "train error 1% against dev error 7%: the gap is variance",
}
GOAL = {"kind": "reduce-variance", "question": "does more dropout help?"}
PARAMS: dict[str, Any] = {
    "dropout": {"role": "target", "type": "float", "low": 0.0, "high": 0.5},
    "lr": {"role": "nuisance", "type": "float", "low": 3e-4, "high": 3e-2, "log": True},
}
STUDY: dict[str, Any] = {
    "params": PARAMS,
    "objective": {"metric": "val/acc", "direction": "maximize"},
    "sampler": "qmc",
    "trials": 6,
}
TRIALS: dict[str, Any] = {
    "round": {
        "name": "r1-dropout",
        "command": "python train.py --lr {lr} --dropout {dropout} --epochs 2 --out {trial_dir}",
        "metrics": "{trial_dir}/metrics.jsonl",
        "objective": {"metric": "val/acc", "direction": "maximize"},
        "params": PARAMS,
        "trials": 6,
    }
}
ANALYSIS = {"study": "r1-dropout", "best_value": 0.95, "diagnosis": "variance"}
DECISION = {
    "promote": True,
    "reason": "0.95 against the baseline's 0.93, seed spread 0.004",
    "improvement": 0.02,
    "seed_spread": 0.004,
    "new_baseline": {"lr": 0.002, "dropout": 0.35},
    "next_goal": "does a wider network help?",
}
CURVES_EVIDENCE = {
    "kind": "curves",
    "source": "dlpilot curves runs/baseline",
    "summary": "train error 1%, dev error 7%",
    "data": {"train_error": 0.01, "dev_error": 0.07},
}

ALL: dict[int, dict[str, Any]] = {
    1: TASK, 2: METRIC, 3: BASELINE, 4: BOTTLENECK, 5: GOAL, 6: STUDY, 7: TRIALS, 8: ANALYSIS,
    9: DECISION,
}  # fmt: skip


def answer(
    step: int, fields: dict[str, Any] | None = None, why: str = ""
) -> tuple[str, dict[str, Any]]:
    """A runbook_answer tool call for ``step`` (default: its valid answer above)."""
    return "runbook_answer", {"step": step, "answer": fields or ALL[step], "why": why}
