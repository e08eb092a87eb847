# Minibatches chosen by indexing the model's output over the whole (precomputed) feature
# matrix: model(features)[idx] against labels[idx]. Correct; the input is the same every step,
# so the overfit test must not freeze the first step's targets against new rows.
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
N, C, D = 360, 3, 8
labels = torch.randint(0, C, (N,))
features = torch.randn(N, D) + 2.0 * torch.randn(C, D)[labels]
train_x, train_y = features[:300], labels[:300]
val_x, val_y = features[300:], labels[300:]
model = nn.Sequential(nn.Linear(D, 32), nn.ReLU(), nn.Linear(32, C))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(6):
    model.train()
    perm = torch.randperm(300)
    for start in range(0, 300, 30):
        idx = perm[start : start + 30]
        opt.zero_grad()
        F.cross_entropy(model(train_x)[idx], train_y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, float(F.cross_entropy(model(val_x), val_y)))
