"""A Trainer class whose validation_step forgets torch.no_grad(): eval-mode forwards build graphs
that are never back-propagated. Only mode.eval-grad-enabled is true here; the next training
step must not be blamed on those eval-mode forwards (mode.eval-during-training)."""

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset, random_split


class Trainer:
    def __init__(self, model, optimizer, criterion):
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.history = []

    def training_step(self, batch):
        xb, yb = batch
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(xb), yb)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def validation_step(self, batch):
        xb, yb = batch
        logits = self.model(xb)
        return self.criterion(logits, yb).item(), (logits.argmax(1) == yb).float().mean().item()

    def fit(self, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            self.model.train()
            tl = [self.training_step(b) for b in train_loader]
            self.model.eval()
            vl = [self.validation_step(b) for b in val_loader]
            rec = {
                "epoch": epoch,
                "train_loss": sum(tl) / len(tl),
                "val_loss": sum(v[0] for v in vl) / len(vl),
                "val_acc": sum(v[1] for v in vl) / len(vl),
            }
            self.history.append(rec)
            print(rec)


if __name__ == "__main__":
    torch.manual_seed(0)
    X = torch.randn(700, 12)
    y = (X @ torch.randn(12, 3)).argmax(1)
    tr, va = random_split(TensorDataset(X, y), [560, 140])
    model = nn.Sequential(nn.Linear(12, 48), nn.ReLU(), nn.Dropout(0.1), nn.Linear(48, 3))
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=2e-3), nn.CrossEntropyLoss())
    trainer.fit(
        DataLoader(tr, batch_size=32, shuffle=True), DataLoader(va, batch_size=35), epochs=3
    )
    torch.save(
        {"model": model.state_dict(), "optimizer": trainer.optimizer.state_dict()}, "ckpt.pt"
    )
