# Metric learning: a hand-written Dataset samples (anchor, positive, negative) triplets from its
# own array; after each epoch the class centroids are computed on the whole training array and
# held-out samples are classified by the nearest centroid. Correct: the centroid pass reads the
# training array on purpose, it is not validation.
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

rng = np.random.default_rng(0)
torch.manual_seed(0)
K, D = 6, 16
prototypes = rng.normal(size=(K, D)).astype(np.float32)


def split(per_class):
    y = np.repeat(np.arange(K), per_class)
    return (prototypes[y] + 1.2 * rng.normal(size=(len(y), D))).astype(np.float32), y


train_x, train_y = split(150)
val_x, val_y = split(15)


class Triplets(Dataset):
    def __init__(self, x, y):
        self.x = torch.from_numpy(x)
        self.y = y
        self.members = [np.flatnonzero(y == k) for k in range(K)]

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        k = self.y[i]
        pos = int(rng.choice(self.members[k]))
        neg = int(rng.choice(self.members[(k + int(rng.integers(1, K))) % K]))
        return self.x[i], self.x[pos], self.x[neg]


encoder = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 8))
embed = lambda x: F.normalize(encoder(x), dim=-1)  # noqa: E731
loss_fn = nn.TripletMarginLoss(margin=0.4)
opt = torch.optim.Adam(encoder.parameters(), lr=1e-3)
loader = DataLoader(Triplets(train_x, train_y), batch_size=32, shuffle=True)
for epoch in range(4):
    encoder.train()
    for a, p, n in loader:
        opt.zero_grad()
        loss_fn(embed(a), embed(p), embed(n)).backward()
        opt.step()
    encoder.eval()
    with torch.no_grad():
        z = embed(torch.from_numpy(train_x))
        centroids = torch.stack([z[torch.from_numpy(train_y == k)].mean(0) for k in range(K)])
        guess = (embed(torch.from_numpy(val_x)) @ centroids.T).argmax(1).numpy()
    print(epoch, float((guess == val_y).mean()))
