"""A trainer class with callbacks: a frozen teacher distilled into a student, an EMA copy of the
student updated after every step and evaluated; only the student's parameters are optimized
(correct)."""

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(2400, 16)
Y = (X @ torch.randn(16, 5)).argmax(1)


def mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(16, width), nn.ReLU(), nn.Dropout(0.1), nn.Linear(width, 5))


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.99) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for s, p in zip(self.shadow.parameters(), model.parameters(), strict=True):
            s.mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)


class PrintCallback:
    def on_epoch_end(self, trainer: "DistillTrainer", metrics: dict) -> None:
        print(f"epoch {trainer.epoch}: {metrics}")


class DistillTrainer:
    def __init__(
        self, student, teacher, callbacks=(), temperature: float = 2.0, alpha: float = 0.5
    ):
        self.student = student
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.ema = EMA(student)
        self.callbacks = list(callbacks)
        self.t = temperature
        self.alpha = alpha
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=2e-3)
        self.epoch = 0

    def _loss(self, x, y):
        logits = self.student(x)
        with torch.no_grad():
            soft = F.softmax(self.teacher(x) / self.t, dim=-1)
        kd = (
            F.kl_div(F.log_softmax(logits / self.t, dim=-1), soft, reduction="batchmean")
            * self.t**2
        )
        return self.alpha * kd + (1 - self.alpha) * F.cross_entropy(logits, y)

    def train_epoch(self, loader):
        self.student.train()
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = self._loss(x, y)
            loss.backward()
            self.optimizer.step()
            self.ema.update(self.student)

    @torch.no_grad()
    def evaluate(self, loader):
        model = self.ema.shadow
        model.eval()
        correct = total = 0
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
        return {"val_acc": correct / total}

    def fit(self, train_loader, val_loader, epochs: int):
        for self.epoch in range(epochs):
            self.train_epoch(train_loader)
            metrics = self.evaluate(val_loader)
            for cb in self.callbacks:
                cb.on_epoch_end(self, metrics)


def pretrained_teacher() -> nn.Module:
    teacher = mlp(128)
    opt = torch.optim.Adam(teacher.parameters(), lr=3e-3)
    teacher.train()
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(teacher(X[:2000]), Y[:2000]).backward()
        opt.step()
    return teacher


if __name__ == "__main__":
    train = DataLoader(TensorDataset(X[:2000], Y[:2000]), batch_size=40, shuffle=True)
    val = DataLoader(TensorDataset(X[2000:], Y[2000:]), batch_size=100)
    DistillTrainer(mlp(32), pretrained_teacher(), callbacks=[PrintCallback()]).fit(train, val, 3)
