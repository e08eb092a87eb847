# expected: clean
# Held-out program for issue 15 (loop.zero-grad-misplaced, the optimizer step dedented out of the
# batch loop): a plain script.
import numpy as np
import torch
from torch import nn

np.random.seed(0)
torch.manual_seed(0)

# --- data: two interleaved moons, numpy first like many notebooks ---
n = 2400
theta = np.random.rand(n) * np.pi
side = np.random.rand(n) < 0.5
xy = np.where(
    side[:, None],
    np.stack([np.cos(theta), np.sin(theta)], 1),
    np.stack([1 - np.cos(theta), 0.5 - np.sin(theta)], 1),
)
xy += 0.1 * np.random.randn(n, 2)
X = torch.tensor(xy, dtype=torch.float32)
Y = torch.tensor(side.astype(np.int64))
X_train, Y_train, X_val, Y_val = X[:2000], Y[:2000], X[2000:], Y[2000:]
train_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(X_train, Y_train), batch_size=25, shuffle=True
)
val_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(X_val, Y_val), batch_size=400
)


class MoonNet(nn.Module):
    def __init__(self):
        super(MoonNet, self).__init__()
        self.fc1 = nn.Linear(2, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 2)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


clf = MoonNet()
optimizer = torch.optim.Adagrad(clf.parameters(), lr=0.05)
criterion = nn.CrossEntropyLoss()

for epoch in range(8):
    clf.train()
    losses = []
    for batch_x, batch_y in train_loader:
        optimizer.zero_grad()
        out = clf(batch_x)
        loss = criterion(out, batch_y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    clf.eval()
    correct = 0
    with torch.no_grad():
        for batch_x, batch_y in val_loader:
            correct += (clf(batch_x).argmax(1) == batch_y).sum().item()
    print("Epoch %d | loss %.4f | val acc %.3f" % (epoch, np.mean(losses), correct / len(Y_val)))
