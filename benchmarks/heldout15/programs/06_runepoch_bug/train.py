# expected: mode.step-during-eval
# Held-out program for issue 15 (mode.step-during-eval): one shared epoch function for both splits.
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split


class SpiralNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(2, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 3),
        )

    def forward(self, pts):
        return self.layers(pts)


def spirals(per_arm=600, arms=3, noise=0.15):
    t = torch.linspace(0.2, 1.0, per_arm)
    xs, ys = [], []
    for k in range(arms):
        angle = t * 4.0 + k * 2 * torch.pi / arms
        arm = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=1)
        xs.append(arm + noise * t[:, None] * torch.randn(per_arm, 2))
        ys.append(torch.full((per_arm,), k))
    return torch.cat(xs), torch.cat(ys)


def run_epoch(net, loader, optimizer, train=True):
    net.train(train)
    total, correct, count = 0.0, 0, 0
    for pts, arm in loader:
        out = net(pts)
        loss = F.cross_entropy(out, arm)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(arm)
        correct += (out.argmax(1) == arm).sum().item()
        count += len(arm)
    return total / count, correct / count


if __name__ == "__main__":
    torch.manual_seed(21)
    pts, arm = spirals()
    full = TensorDataset(pts, arm)
    tr, va = random_split(full, [1500, 300], generator=torch.Generator().manual_seed(0))
    tr_loader = DataLoader(tr, batch_size=32, shuffle=True, drop_last=True)
    va_loader = DataLoader(va, batch_size=32)
    net = SpiralNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-3)
    for ep in range(6):
        t0 = time.time()
        tr_loss, tr_acc = run_epoch(net, tr_loader, optimizer, train=True)
        va_loss, va_acc = run_epoch(net, va_loader, optimizer, train=False)
        print(
            f"[{ep}] train {tr_loss:.3f}/{tr_acc:.3f}  val {va_loss:.3f}/{va_acc:.3f}  "
            f"({time.time() - t0:.1f}s)"
        )
