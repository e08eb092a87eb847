"""An accelerate-style loop written with plain torch: an Accelerator-like helper that scales the
loss for accumulation, tells when gradients are synchronized, and steps only then (correct)."""

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MiniAccelerator:
    def __init__(self, gradient_accumulation_steps: int) -> None:
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.step = 0
        self.sync_gradients = False

    def prepare(self, *objs):
        return objs

    @contextlib.contextmanager
    def accumulate(self, model):
        self.step += 1
        self.sync_gradients = self.step % self.gradient_accumulation_steps == 0
        yield

    def backward(self, loss):
        (loss / self.gradient_accumulation_steps).backward()

    def clip_grad_norm_(self, params, max_norm):
        if self.sync_gradients:
            torch.nn.utils.clip_grad_norm_(params, max_norm)


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(3000, 10)
    y = (x[:, 0] * x[:, 1] > 0).long()
    accelerator = MiniAccelerator(gradient_accumulation_steps=4)
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    train_dl = DataLoader(TensorDataset(x[:2600], y[:2600]), batch_size=16, shuffle=True)
    val_dl = DataLoader(TensorDataset(x[2600:], y[2600:]), batch_size=100)
    model, optimizer, train_dl, val_dl = accelerator.prepare(model, optimizer, train_dl, val_dl)
    for epoch in range(3):
        model.train()
        for inputs, targets in train_dl:
            with accelerator.accumulate(model):
                loss = F.cross_entropy(model(inputs), targets)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            acc = sum((model(a).argmax(1) == b).sum().item() for a, b in val_dl) / 400
        print(epoch, acc)


if __name__ == "__main__":
    main()
