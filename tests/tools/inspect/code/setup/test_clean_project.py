from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import run

DATA = """
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, random_split
from torchvision import transforms

TRAIN_TF = transforms.Compose([
    transforms.RandomResizedCrop(32),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
])
EVAL_TF = transforms.Compose(
    [transforms.Resize(36), transforms.CenterCrop(32), transforms.ToTensor()]
)


class Images(Dataset):
    def __init__(self, x, y, transform=None):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        img = self.x[i]
        if np.random.rand() < 0.1:
            img = img * 0.9
        return (self.transform(img) if self.transform else img), self.y[i]


def seed_worker(worker_id):
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)


def make_loaders(x, y, batch_size, workers, seed):
    g = torch.Generator().manual_seed(seed)
    n_val = len(x) // 10
    perm = torch.randperm(len(x), generator=g)
    train_idx, val_idx = perm[n_val:], perm[:n_val]
    x_train, y_train = x[train_idx], y[train_idx]
    x_val, y_val = x[val_idx], y[val_idx]
    mean = x_train.mean()
    std = x_train.std()
    x_train = (x_train - mean) / std
    x_val = (x_val - mean) / std
    train_ds = Images(x_train, y_train, transform=TRAIN_TF)
    val_ds = Images(x_val, y_val, transform=EVAL_TF)
    train_loader = DataLoader(train_ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                              worker_init_fn=seed_worker, generator=g)
    val_loader = DataLoader(val_ds, batch_size=batch_size, shuffle=False, num_workers=workers,
                            worker_init_fn=seed_worker, generator=g)
    return train_loader, val_loader
"""

TRAIN = """
import argparse
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn

from data import make_loaders


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def save_checkpoint(path, model, optimizer, scheduler, epoch, best):
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "best": best,
    }
    torch.save(state, path)


def evaluate(model, loader, loss_fn):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += loss_fn(model(x), y).item()
    model.train()
    return total / len(loader)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--out", default="runs/exp")
    p.add_argument("--resume", default="")
    args = p.parse_args()
    set_seed(0)
    x = torch.randn(1000, 3, 32, 32)
    y = torch.randint(0, 10, (1000,))
    train_loader, val_loader = make_loaders(x, y, 64, args.workers, 0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    start, best, bad_epochs, patience = 0, float("inf"), 0, 5
    if args.resume:
        ckpt = torch.load(args.resume)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start, best = ckpt["epoch"] + 1, ckpt["best"]
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "metrics.jsonl"), "a")
    for epoch in range(start, args.epochs):
        model.train()
        for step, (xb, yb) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            log.write(json.dumps({"epoch": epoch, "step": step, "loss": loss.item()}) + "\\n")
        scheduler.step()
        val_loss = evaluate(model, val_loader, loss_fn)
        log.write(json.dumps({"epoch": epoch, "val_loss": val_loss}) + "\\n")
        save_checkpoint(os.path.join(args.out, "last.pt"), model, optimizer, scheduler, epoch, best)
        if val_loss < best:
            best, bad_epochs = val_loss, 0
            torch.save(model.state_dict(), os.path.join(args.out, "best_model.pt"))
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                break


if __name__ == "__main__":
    main()
"""


def test_a_correct_complete_training_project_gets_no_setup_findings() -> None:
    findings = run({"data.py": DATA, "train.py": TRAIN})
    assert [(f.id, f.evidence[0].location()) for f in findings] == []


def test_the_same_project_without_its_entry_file_has_no_training_code_and_no_project_findings() -> (
    None
):
    assert run({"data.py": DATA}) == []
