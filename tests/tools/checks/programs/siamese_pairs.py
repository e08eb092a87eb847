# A Siamese encoder called twice per step on the two sides of each pair, with a contrastive
# loss; the held-out pairs are scored each epoch. Correct: no runtime finding, and the overfit
# test must replay each of the two calls with its own first-step input.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
K, D = 6, 12
centers = torch.randn(K, D)


def make_pairs(n):
    left = torch.randint(0, K, (n,))
    same = torch.rand(n) < 0.5
    right = torch.where(same, left, (left + torch.randint(1, K, (n,))) % K)
    noise = lambda: 0.6 * torch.randn(n, D)  # noqa: E731
    return centers[left] + noise(), centers[right] + noise(), same.float()


train = DataLoader(TensorDataset(*make_pairs(1536)), batch_size=64, shuffle=True)
val_a, val_b, val_same = make_pairs(256)
encoder = nn.Sequential(nn.Linear(D, 48), nn.ReLU(), nn.Linear(48, 8, bias=False))
opt = torch.optim.Adam(encoder.parameters(), lr=2e-3)


def contrastive(za, zb, same, margin=1.0):
    dist = F.pairwise_distance(za, zb)
    return (same * dist.pow(2) + (1 - same) * F.relu(margin - dist).pow(2)).mean()


for epoch in range(5):
    encoder.train()
    for a, b, same in train:
        opt.zero_grad()
        loss = contrastive(encoder(a), encoder(b), same)
        loss.backward()
        opt.step()
    encoder.eval()
    with torch.no_grad():
        print(epoch, float(contrastive(encoder(val_a), encoder(val_b), val_same)))
