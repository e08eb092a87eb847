"""A training stand-in without torch: a loss curve set by --lr, written to metrics.jsonl.

--mode: ok | crash | hang | flood | oom | nonfinite | nometrics | wrongmetric
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--mode", default="ok")
p.add_argument("--out", type=Path, required=True)
a = p.parse_args()
mode = a.mode
if mode.startswith("if-lr-above:"):  # e.g. if-lr-above:0.5:nonfinite
    _, bound, then = mode.split(":")
    mode = then if a.lr > float(bound) else "ok"
(a.out / "pid").write_text(str(os.getpid()))
(a.out / "env.json").write_text(
    json.dumps(
        {k: v for k, v in os.environ.items() if k.startswith(("DLPILOT_", "CUDA_", "OMP_", "MKL_"))}
    )
)
if mode == "crash":
    raise SystemExit(3)
if mode == "oom":
    hog = []
    while True:
        hog.append(bytearray(64 << 20))
if mode == "flood":
    chunk = "x" * 10_000 + "\n"
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        sys.stdout.write(chunk)
if mode == "nometrics":
    sys.exit(0)
key = "val_acc" if mode == "wrongmetric" else "val_loss"
with (a.out / "metrics.jsonl").open("w") as f:
    for step in range(1, a.steps + 1):
        loss = abs(math.log10(a.lr) + 2.0) + 1.0 / step + a.seed * 1e-3
        if mode == "nonfinite" and step >= 2:
            loss = float("nan")
        f.write(json.dumps({"step": step, "train_loss": loss, key: loss}) + "\n")
        f.flush()
        time.sleep(a.sleep)
if mode == "hang":
    time.sleep(3600)
