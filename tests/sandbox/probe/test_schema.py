"""The probe's summary and events, as a real probe run writes them, match ``_schema``: every key
written is declared with the type it has, and every required key is written. A key renamed on
either side fails here (the rules' unit tests build their summaries by hand and cannot see it)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict

import pytest

import dlpilot
from dlpilot.sandbox.probe import _schema as schema
from dlpilot.tools.checks._evidence import ProbeRun, read_events

PROBE_TIMEOUT_S = 120
"""A probed run of the tiny script below takes a few seconds; a slow shared CPU gets room."""

EVENT_TYPES: dict[str, Any] = {
    "start": schema.StartEvent,
    "loader": schema.LoaderEvent,
    "optimizer": schema.OptimizerEvent,
    "step": schema.StepEvent,
    "obs": schema.ObsEvent,
    "summary": schema.SummaryEvent,
    "exception": schema.ExceptionEvent,
    "end": schema.EndEvent,
    "probe-error": schema.ProbeErrorEvent,
}

# Touches every aggregate: a training and a validation loader, a no-grad pass outside any loader,
# ReLU and sigmoid sites, a class loss and an elementwise one, an optimizer with a scheduler.
SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(256, 6)
y = (X[:, 0] > 0).long()
train = DataLoader(TensorDataset(X[:192], y[:192]), batch_size=16, shuffle=True)
val = DataLoader(TensorDataset(X[192:], y[192:]), batch_size=32)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(16, 2)
        self.gate = nn.Linear(16, 1)

    def forward(self, x):
        h = self.drop(F.relu(self.fc1(x)))
        return self.fc2(h), torch.sigmoid(self.gate(h)).squeeze(1)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        logits, gate = model(xb)
        loss = F.cross_entropy(logits, yb) + F.mse_loss(gate, yb.float())
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        for xb, yb in val:
            model(xb)
        model(X[192:])
"""


def conforms(value: Any, tp: Any, where: str = "summary") -> list[str]:
    """Why ``value`` (decoded JSON) is not of type ``tp``; empty when it is."""
    if tp is Any:
        return []
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: a {type(value).__name__}, not a {tp.__name__} dict"]
        hints = get_type_hints(tp)
        problems = [f"{where}.{k}: not declared in {tp.__name__}" for k in value if k not in hints]
        problems += [
            f"{where}.{k}: required by {tp.__name__}, missing"
            for k in sorted(tp.__required_keys__)
            if k not in value
        ]
        for key, item in value.items():
            if key in hints:
                problems += conforms(item, hints[key], f"{where}.{key}")
        return problems
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        arms = [conforms(value, arm, where) for arm in get_args(tp)]
        if any(not a for a in arms):
            return []
        return [f"{where}: {value!r} matches none of {tp}"]
    if origin is Literal:
        return [] if value in get_args(tp) else [f"{where}: {value!r} not one of {get_args(tp)}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: a {type(value).__name__}, not a list"]
        (item_tp,) = get_args(tp)
        return [p for i, v in enumerate(value) for p in conforms(v, item_tp, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: a {type(value).__name__}, not a dict"]
        _key_tp, item_tp = get_args(tp)
        problems = [f"{where}: key {k!r} is not a str" for k in value if not isinstance(k, str)]
        return problems + [
            p for k, v in value.items() for p in conforms(v, item_tp, f"{where}.{k}")
        ]
    if tp is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp in (bool, str):
        ok = isinstance(value, tp)
    else:
        raise AssertionError(f"{where}: the checker does not know the type {tp!r}")
    return [] if ok else [f"{where}: {value!r} is not a {tp.__name__}"]


def test_the_checker_catches_a_renamed_a_missing_and_a_mistyped_key() -> None:
    amp = {"fp16_backwards": 0, "fp16_first_step": None, "scaler": False}
    assert conforms(amp, schema.Amp) == []
    renamed = {"fp16_backward": 0, "fp16_first_step": None, "scaler": False}
    assert conforms(renamed, schema.Amp) == [
        "summary.fp16_backward: not declared in Amp",
        "summary.fp16_backwards: required by Amp, missing",
    ]
    assert conforms({**amp, "scaler": 1}, schema.Amp) == ["summary.scaler: 1 is not a bool"]
    assert conforms({"n": 3, "loss": "nan", "t": 0.1, "ev": "step"}, schema.StepEvent) == []
    assert conforms({"n": 3, "loss": "oops", "t": 0.1, "ev": "step"}, schema.StepEvent) != []


def _probe(tmp_path: Path, mode: str) -> ProbeRun:
    """Probe :data:`SCRIPT`; the probe's own errors (``probe-error`` events) fail the test."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    events = tmp_path / f"{mode}.jsonl"
    src = str(Path(dlpilot.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "dlpilot.sandbox.probe", "--out", str(events), "--mode", mode]
    argv += ["--train-batches", "6", "--val-batches", "2", "--overfit-steps", "30", "--"]
    subprocess.run([*argv, str(script)], cwd=tmp_path, env=env, check=True, timeout=PROBE_TIMEOUT_S)
    errors = [line for line in events.read_text().splitlines() if '"ev":"probe-error"' in line]
    assert errors == []
    return read_events(events)


def _all_events(run: ProbeRun) -> list[dict[str, Any]]:
    singles = [e for e in (run.start, run.exception, run.end, run.summary) if e]
    return [*singles, *run.steps, *run.observations, *run.loaders, *run.optimizers]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["script", "overfit"])
def test_a_real_probe_run_writes_events_that_match_the_schema(tmp_path: Path, mode: str) -> None:
    run = _probe(tmp_path, mode)
    assert run.summary_final and run.end is not None
    assert run.bad_lines == 0
    problems = [
        p
        for event in _all_events(run)
        for p in conforms(event, EVENT_TYPES[event["ev"]], event["ev"])
    ]
    assert problems == []
    summary = run.summary
    # the run reached the parts whose shape is checked (an empty list proves nothing)
    assert summary["buckets"] and summary["loaders"] and summary["optimizers"]
    assert {a["kind"] for a in summary["acts"]} == (
        {"relu", "sigmoid"} if mode == "script" else set()
    )


@pytest.mark.slow
def test_the_probe_records_whether_each_bucket_trains_or_validates(tmp_path: Path) -> None:
    summary = _probe(tmp_path, "script").summary
    kinds = {ld["lid"]: ld["kind"] for ld in summary["loaders"]}
    assert sorted(kinds.values()) == ["train", "val"]
    roles = {(b["ctx"], b["grad_ctx"]): b["role"] for b in summary["buckets"]}
    for lid, kind in kinds.items():
        assert roles[(lid, None)] == kind
    assert roles[(None, False)] == "val"  # the no-grad pass over the validation tensor
