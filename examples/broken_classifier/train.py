"""A classifier with four classic training bugs planted in it, for dlpilot's demo and tests.

Each bug is marked with ``# BUG``; `dlpilot check -- python train.py` should report every one:

1. the model ends in ``nn.Softmax`` and feeds probabilities to ``nn.CrossEntropyLoss``
   (loss.softmax-before-ce): the loss applies log-softmax itself, so gradients are squashed;
2. gradients are never cleared (loop.zero-grad-missing): every step adds to the last one's;
3. validation switches to ``eval()`` and training never switches back
   (mode.eval-during-training): from the second epoch on, dropout is off while training;
4. validation runs with autograd on (mode.eval-grad-enabled): it builds graphs for nothing.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


def make_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 16, generator=g) * 2
    labels = torch.randint(0, 4, (n,), generator=g)
    features = centers[labels] + torch.randn(n, 16, generator=g)
    return TensorDataset(features, labels)


train_loader = DataLoader(make_data(2048, 1), batch_size=64, shuffle=True)
val_loader = DataLoader(make_data(512, 2), batch_size=128)

model = nn.Sequential(
    nn.Linear(16, 64),
    nn.ReLU(),
    nn.Dropout(0.3),
    nn.Linear(64, 4),
    nn.Softmax(dim=1),  # BUG 1: CrossEntropyLoss expects raw logits
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

model.train()
for epoch in range(5):
    for features, labels in train_loader:
        loss = criterion(model(features), labels)
        loss.backward()  # BUG 2: no optimizer.zero_grad() anywhere
        optimizer.step()

    model.eval()  # BUG 3: never switched back to model.train()
    correct = 0
    for features, labels in val_loader:  # BUG 4: no torch.no_grad()
        correct += (model(features).argmax(dim=1) == labels).sum().item()
    print(f"epoch {epoch}: val accuracy {correct / 512:.3f}")
