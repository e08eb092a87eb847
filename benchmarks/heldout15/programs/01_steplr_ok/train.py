# expected: clean
# Held-out program for issue 15 (lr.schedule-mismatch, epoch scheduler): argparse + config dict.
import argparse
import json
import random

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

DEFAULTS = {
    "epochs": 6,
    "batch_size": 32,
    "lr": 0.05,
    "momentum": 0.9,
    "decay_every": 2,
    "decay_factor": 0.3,
    "hidden": 64,
    "seed": 7,
}


def parse_config():
    ap = argparse.ArgumentParser()
    for key, value in DEFAULTS.items():
        ap.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    ns = ap.parse_args()
    return {k: getattr(ns, k) for k in DEFAULTS}


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_blobs(n, classes=4, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 0.7
    labels = torch.randint(0, classes, (n,), generator=g)
    points = centers[labels] + torch.randn(n, dim, generator=g)
    return points, labels


class BlobNet(nn.Module):
    def __init__(self, dim, hidden, classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.out(self.body(x))


def main():
    cfg = parse_config()
    seed_everything(cfg["seed"])
    xs, ys = make_blobs(1600, seed=cfg["seed"])
    train_dl = DataLoader(
        TensorDataset(xs[:1280], ys[:1280]), batch_size=cfg["batch_size"], shuffle=True
    )
    val_dl = DataLoader(TensorDataset(xs[1280:], ys[1280:]), batch_size=128)

    net = BlobNet(16, cfg["hidden"], 4)
    optim = torch.optim.SGD(net.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    lr_sched = torch.optim.lr_scheduler.StepLR(
        optim, step_size=cfg["decay_every"], gamma=cfg["decay_factor"]
    )
    criterion = nn.CrossEntropyLoss()

    for epoch in range(cfg["epochs"]):
        net.train()
        running = 0.0
        for feats, target in train_dl:
            optim.zero_grad()
            loss = criterion(net(feats), target)
            loss.backward()
            optim.step()
            running += loss.item()
        lr_sched.step()

        net.eval()
        hits = 0
        with torch.no_grad():
            for feats, target in val_dl:
                hits += (net(feats).argmax(dim=1) == target).sum().item()
        row = {
            "epoch": epoch,
            "train_loss": running / len(train_dl),
            "val_acc": hits / len(val_dl.dataset),
            "lr": optim.param_groups[0]["lr"],
        }
        print(json.dumps(row))


if __name__ == "__main__":
    main()
