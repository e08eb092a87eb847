"""A classifier trained under OneCycleLR, which starts at max_lr / 25: the single-batch overfit
test (schedulers off) must train at the schedule's peak, not at that starting rate."""

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(512, 20)
y = (X[:, :5].sum(1) > 0).long() + 2 * (X[:, 5:10].sum(1) > 0).long()
train = DataLoader(TensorDataset(X[:448], y[:448]), batch_size=64, shuffle=True)
val = DataLoader(TensorDataset(X[448:], y[448:]), batch_size=64)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
epochs = 8
sched = torch.optim.lr_scheduler.OneCycleLR(
    opt, max_lr=0.1, div_factor=1000.0, epochs=epochs, steps_per_epoch=len(train)
)
crit = nn.CrossEntropyLoss()
for epoch in range(epochs):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        crit(model(xb), yb).backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        acc = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val) / 64
    print(epoch, acc)
