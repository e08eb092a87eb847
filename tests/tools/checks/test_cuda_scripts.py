"""check_script on training scripts that run on a CUDA GPU: the probe's hooks, the replayed batch
of the overfit test and the exception report must work on device tensors, under autocast, and
through an asynchronous device-side assert. Skipped with a reason where torch sees no GPU;
``scripts/gpu-check`` runs them on a GPU machine."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import pytest

from dlpilot.tools.checks import CheckReport, check_script
from dlpilot.tools.checks.entry import probe_device

pytestmark = [pytest.mark.slow, pytest.mark.cuda]

# A classifier on the GPU with pinned-memory loaders; $-free so str.replace turns the knobs.
PROGRAM = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
dev = torch.device("cuda")
N, D, C = 512, 16, 5
X = torch.randn(N, D)
y = (X @ torch.randn(D, C)).argmax(1)
LABELS
tr = DataLoader(TensorDataset(X[:384], y[:384]), batch_size=32, shuffle=True, pin_memory=True)
va = DataLoader(TensorDataset(X[384:], y[384:]), batch_size=64, pin_memory=True)
model = nn.Sequential(nn.Linear(D, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
                      nn.Linear(64, C)).to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
crit = nn.CrossEntropyLoss()
SETUP
for epoch in range(8):
    model.train()
    for xb, yb in tr:
        xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
STEP
    model.eval()
    with torch.no_grad():
        correct = sum((model(xb.to(dev)).argmax(1).cpu() == yb).sum().item() for xb, yb in va)
    print("epoch", epoch, correct / 128)
"""

FP16_SCALER = (
    "scaler = torch.amp.GradScaler('cuda')",
    """        with torch.autocast("cuda", dtype=torch.float16):
            loss = crit(model(xb), yb)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()""",
)
BF16 = (
    "",
    """        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = crit(model(xb), yb)
        loss.backward()
        opt.step()""",
)


def _program(setup_step: tuple[str, str], labels: str = "") -> str:
    setup, step = setup_step
    return PROGRAM.replace("LABELS", labels).replace("SETUP", setup).replace("STEP", step)


@functools.cache
def _cuda() -> bool:
    return probe_device().cuda


def _check(tmp_path: Path, source: str, overfit: bool = True) -> CheckReport:
    if not _cuda():
        pytest.skip("needs a CUDA GPU: torch in the child sees none")
    (tmp_path / "train.py").write_text(source)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return check_script(
        [sys.executable, "train.py"], cwd=tmp_path, overfit=overfit, static=False, timeout_s=240
    )


@pytest.mark.parametrize("precision", [FP16_SCALER, BF16], ids=["fp16-scaler", "bf16"])
def test_a_correct_mixed_precision_gpu_script_passes_clean(
    tmp_path: Path, precision: tuple[str, str]
) -> None:
    report = _check(tmp_path, _program(precision))
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.steps_observed >= 10
    assert report.overfit is not None and report.overfit.verdict == "passed", report.overfit


def test_labels_out_of_range_on_the_gpu_are_named_before_the_device_side_assert(
    tmp_path: Path,
) -> None:
    # On CUDA the bad label trips an asynchronous device-side assert, not an IndexError: the
    # probe must still name the label it saw, and the crash must be reported as the script's.
    report = _check(tmp_path, _program(BF16, labels="y[300] = C"), overfit=False)
    assert "loss.label-out-of-range" in {f.id for f in report.findings}
    assert report.run.stopped_by == "exception"
    assert report.exception is not None
