# expected: clean
# Held-out correct program for issue 15: OneCycleLR at a high peak rate with gradient clipping,
# inside a trainer class with an EMA hook.
import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class EMA:
    def __init__(self, model, decay=0.98):
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model):
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)


class ResBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lin = nn.Linear(width, width)
        self.bn = nn.BatchNorm1d(width)

    def forward(self, x):
        return x + F.relu(self.bn(self.lin(x)))


class ResMLP(nn.Module):
    def __init__(self, d_in=20, width=64, depth=3, n_out=5):
        super().__init__()
        self.stem = nn.Linear(d_in, width)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(depth)])
        self.out = nn.Linear(width, n_out)

    def forward(self, x):
        return self.out(self.blocks(self.stem(x)))


class CycleTrainer:
    def __init__(self, model, peak_lr=0.8, epochs=5, clip=1.0):
        self.model, self.epochs, self.clip = model, epochs, clip
        self.opt = torch.optim.SGD(model.parameters(), lr=peak_lr, momentum=0.9, weight_decay=5e-4)
        self.peak_lr = peak_lr
        self.ema = EMA(model)

    def fit(self, train_dl, val_dl):
        sched = torch.optim.lr_scheduler.OneCycleLR(
            self.opt,
            max_lr=self.peak_lr,
            epochs=self.epochs,
            steps_per_epoch=len(train_dl),
            pct_start=0.3,
        )
        for ep in range(self.epochs):
            self.model.train()
            for xb, yb in train_dl:
                self.opt.zero_grad()
                loss = F.cross_entropy(self.model(xb), yb, label_smoothing=0.05)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
                self.opt.step()
                sched.step()
                self.ema.update(self.model)
            print(
                f"ep {ep} loss {loss.item():.4f} val {self.evaluate(val_dl):.3f} ema {self.evaluate(val_dl, self.ema.shadow):.3f}"
            )

    @torch.no_grad()
    def evaluate(self, dl, net=None):
        net = net or self.model
        net.eval()
        hit = sum((net(xb).argmax(1) == yb).sum().item() for xb, yb in dl)
        return hit / len(dl.dataset)


if __name__ == "__main__":
    torch.manual_seed(99)
    proj = torch.randn(20, 5, generator=torch.Generator().manual_seed(1))
    X = torch.randn(2500, 20)
    Y = (X @ proj + 0.4 * torch.randn(2500, 5)).argmax(1)
    tr = DataLoader(TensorDataset(X[:2000], Y[:2000]), batch_size=50, shuffle=True)
    va = DataLoader(TensorDataset(X[2000:], Y[2000:]), batch_size=250)
    CycleTrainer(ResMLP()).fit(tr, va)
