# expected: clean
# Held-out correct program for issue 15: label smoothing under bfloat16 autocast (no GradScaler is
# needed for bf16), argparse + config dict, cosine schedule per epoch.
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

CONFIG = {"epochs": 4, "batch_size": 64, "lr": 3e-3, "smoothing": 0.1, "width": 128, "classes": 10}


def cli():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--smoothing", type=float)
    cfg = dict(CONFIG)
    cfg.update({k: v for k, v in vars(ap.parse_args()).items() if v is not None})
    return cfg


class Wide(nn.Module):
    def __init__(self, width, classes):
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(30, width),
            nn.LayerNorm(width),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(width, classes),
        )

    def forward(self, x):
        return self.f(x)


def make(n, classes, seed):
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(classes, 30, generator=torch.Generator().manual_seed(77))
    y = torch.randint(0, classes, (n,), generator=g)
    return protos[y] + 0.9 * torch.randn(n, 30, generator=g), y


def main():
    cfg = cli()
    torch.manual_seed(0)
    xtr, ytr = make(3000, cfg["classes"], 1)
    xva, yva = make(600, cfg["classes"], 2)
    tr = DataLoader(TensorDataset(xtr, ytr), batch_size=cfg["batch_size"], shuffle=True)
    va = DataLoader(TensorDataset(xva, yva), batch_size=300)
    model = Wide(cfg["width"], cfg["classes"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg["smoothing"])
    for epoch in range(cfg["epochs"]):
        model.train()
        for xb, yb in tr:
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                logits = model(xb)
                loss = criterion(logits.float(), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            acc = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in va) / len(yva)
        print(
            f"epoch={epoch} lr={sched.get_last_lr()[0]:.5f} loss={loss.item():.4f} val_acc={acc:.3f}"
        )


if __name__ == "__main__":
    main()
