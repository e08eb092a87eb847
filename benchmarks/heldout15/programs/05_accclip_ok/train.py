# expected: clean
# Held-out program for issue 15 (loop.clip-before-backward): an accelerate-like accumulation loop
# in plain torch (micro-batches, a sync step every `accum` batches, clipping on the sync step).
import contextlib
import random

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = 1234
ACCUM = 4
MAX_NORM = 0.5


class Regressor(nn.Module):
    def __init__(self, d_in=12, d_h=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, d_h), nn.Tanh(), nn.Linear(d_h, d_h), nn.Tanh(), nn.Linear(d_h, 1)
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)


class MiniAccelerator:
    """Just the bits of accelerate's API this script uses, on one CPU process."""

    def __init__(self, gradient_accumulation_steps):
        self.accum = gradient_accumulation_steps
        self.step = 0

    @property
    def sync_gradients(self):
        return (self.step + 1) % self.accum == 0

    @contextlib.contextmanager
    def accumulate(self):
        yield
        self.step += 1

    def backward(self, loss):
        (loss / self.accum).backward()

    def clip_grad_norm_(self, params, max_norm):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g)
    y = torch.sin(x[:, 0] * 2) + x[:, 1] * x[:, 2] + 0.1 * torch.randn(n, generator=g)
    return x, y


def main():
    random.seed(SEED)
    torch.manual_seed(SEED)
    xtr, ytr = make_data(2048, 0)
    xva, yva = make_data(512, 1)
    train_dl = DataLoader(TensorDataset(xtr, ytr), batch_size=16, shuffle=True)
    eval_dl = DataLoader(TensorDataset(xva, yva), batch_size=256)

    model = Regressor()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    accelerator = MiniAccelerator(gradient_accumulation_steps=ACCUM)
    mse = nn.MSELoss()

    for epoch in range(4):
        model.train()
        for inputs, targets in train_dl:
            with accelerator.accumulate():
                loss = mse(model(inputs), targets)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), MAX_NORM)
                    optimizer.step()
                    optimizer.zero_grad()
        model.eval()
        with torch.inference_mode():
            err = sum(mse(model(a), b).item() * len(b) for a, b in eval_dl) / len(yva)
        print(f"epoch={epoch} eval_mse={err:.4f} last_train_loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
