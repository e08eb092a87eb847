# Bug: balanced classes stored class by class and a training DataLoader without shuffle, so
# every batch holds one class. data.train-not-shuffled must be reported; the first part of
# each epoch, all the probe watches, is not evidence of class imbalance.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
C = 4
y = torch.arange(C).repeat_interleave(300)
x = torch.randn(len(y), 6) + 2.0 * torch.randn(C, 6)[y]
val_y = torch.randint(0, C, (200,))
val_x = torch.randn(200, 6) + 2.0 * torch.randn(C, 6)[val_y]
model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, C))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loader = DataLoader(TensorDataset(x, y), batch_size=30)
for epoch in range(3):
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, float(F.cross_entropy(model(val_x), val_y)))
