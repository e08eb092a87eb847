# expected: clean
# Held-out program for issue 15 (lr.schedule-mismatch, warm-up factor): a trainer class with callbacks.
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Callback:
    def on_fit_start(self, trainer):
        pass

    def on_batch_end(self, trainer, loss):
        pass

    def on_epoch_end(self, trainer, metrics):
        pass


class LinearWarmup(Callback):
    """Ramps the rate up over the first `warmup` optimizer steps, then holds it."""

    def __init__(self, warmup):
        self.warmup = warmup

    def on_fit_start(self, trainer):
        ramp = lambda it: min(1.0, (it + 1) / self.warmup)  # noqa: E731
        self.sched = torch.optim.lr_scheduler.LambdaLR(trainer.optimizer, lr_lambda=ramp)

    def on_batch_end(self, trainer, loss):
        self.sched.step()


class History(Callback):
    def __init__(self):
        self.rows = []

    def on_epoch_end(self, trainer, metrics):
        self.rows.append(metrics)
        print(", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))


class Wave(Dataset):
    """Noisy sine windows; the target is the dominant frequency bucket."""

    def __init__(self, count, length=48, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.freq = torch.randint(0, 5, (count,), generator=g)
        t = torch.linspace(0, 2 * math.pi, length)
        phase = torch.rand(count, 1, generator=g) * 2 * math.pi
        self.signal = torch.sin((self.freq[:, None] + 1).float() * t + phase)
        self.signal += 0.3 * torch.randn(count, length, generator=g)

    def __len__(self):
        return len(self.freq)

    def __getitem__(self, i):
        return self.signal[i], self.freq[i]


class ConvClassifier(nn.Module):
    def __init__(self, n_out=5):
        super().__init__()
        self.c1 = nn.Conv1d(1, 16, 5, padding=2)
        self.c2 = nn.Conv1d(16, 32, 5, padding=2)
        self.fc = nn.Linear(32, n_out)

    def forward(self, wave):
        h = F.relu(self.c1(wave.unsqueeze(1)))
        h = F.max_pool1d(h, 2)
        h = F.relu(self.c2(h))
        return self.fc(h.mean(dim=-1))


class Trainer:
    def __init__(self, model, optimizer, callbacks=(), max_epochs=5):
        self.model = model
        self.optimizer = optimizer
        self.callbacks = list(callbacks)
        self.max_epochs = max_epochs

    def _emit(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def fit(self, train_loader, val_loader):
        self._emit("on_fit_start")
        for epoch in range(self.max_epochs):
            self.model.train()
            total = 0.0
            for signal, label in train_loader:
                self.optimizer.zero_grad()
                loss = F.cross_entropy(self.model(signal), label)
                loss.backward()
                self.optimizer.step()
                total += loss.item()
                self._emit("on_batch_end", loss.item())
            metrics = {"epoch": epoch, "loss": total / len(train_loader)}
            metrics.update(self.validate(val_loader))
            self._emit("on_epoch_end", metrics)

    @torch.no_grad()
    def validate(self, loader):
        self.model.eval()
        correct, seen, loss_sum = 0, 0, 0.0
        for signal, label in loader:
            logits = self.model(signal)
            loss_sum += F.cross_entropy(logits, label, reduction="sum").item()
            correct += (logits.argmax(-1) == label).sum().item()
            seen += len(label)
        return {"val_loss": loss_sum / seen, "val_acc": correct / seen}


if __name__ == "__main__":
    torch.manual_seed(3)
    train_loader = DataLoader(Wave(1200, seed=1), batch_size=32, shuffle=True)
    val_loader = DataLoader(Wave(300, seed=2), batch_size=100)
    net = ConvClassifier()
    adam = torch.optim.Adam(net.parameters(), lr=2e-3)
    Trainer(net, adam, callbacks=[LinearWarmup(warmup=100), History()], max_epochs=5).fit(
        train_loader, val_loader
    )
