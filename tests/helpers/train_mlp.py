"""A tiny real training: an MLP on generated data, val loss per epoch into metrics.jsonl."""

import argparse
import json
import os
from pathlib import Path

import torch

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.01)
p.add_argument("--width", type=int, default=16)
p.add_argument("--epochs", type=int, default=6)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", type=Path, default=Path("runs/last"))
a = p.parse_args()
torch.manual_seed(a.seed)
x = torch.randn(256, 8)
y = (x @ torch.randn(8, 1)).tanh() + 0.05 * torch.randn(256, 1)
x_train, y_train = x[:192], y[:192]
x_val, y_val = x[192:], y[192:]
model = torch.nn.Sequential(
    torch.nn.Linear(8, a.width), torch.nn.Tanh(), torch.nn.Linear(a.width, 1)
)
opt = torch.optim.SGD(model.parameters(), lr=a.lr)
threads = os.environ.get("OMP_NUM_THREADS")
with (a.out / "metrics.jsonl").open("w") as f:
    for epoch in range(a.epochs):
        for i in range(0, 192, 32):
            loss = torch.nn.functional.mse_loss(model(x_train[i : i + 32]), y_train[i : i + 32])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            val = torch.nn.functional.mse_loss(model(x_val), y_val).item()
        row = {"step": epoch + 1, "train_loss": loss.item(), "val_loss": val, "threads": threads}
        f.write(json.dumps(row) + "\n")
        f.flush()
