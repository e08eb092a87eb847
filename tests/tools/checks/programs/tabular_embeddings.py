# Tabular data: two categorical columns through embeddings (few distinct values) and numeric
# columns, passed as two arguments. Rows that agree on the categories are different samples;
# the splits are disjoint, and training accuracy is computed on the training tensors too.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
N = 1200
cats = torch.stack([torch.randint(0, 3, (N,)), torch.randint(0, 4, (N,))], dim=1)
nums = torch.randn(N, 5)
target = ((nums[:, 0] + 0.5 * cats[:, 0].float() - 0.3 * cats[:, 1].float()) > 0.2).long()
cut = 960
train_set = TensorDataset(cats[:cut], nums[:cut], target[:cut])
val_cats, val_nums, val_target = cats[cut:], nums[cut:], target[cut:]


class TabularNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb_a = nn.Embedding(3, 4)
        self.emb_b = nn.Embedding(4, 4)
        self.body = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, cat, num):
        return self.body(torch.cat([self.emb_a(cat[:, 0]), self.emb_b(cat[:, 1]), num], dim=1))


model = TabularNet()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
loader = DataLoader(train_set, batch_size=32, shuffle=True)


@torch.no_grad()
def accuracy(cat, num, y):
    model.eval()
    return (model(cat, num).argmax(1) == y).float().mean().item()


for epoch in range(4):
    model.train()
    for c, x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(c, x), y).backward()
        opt.step()
    print(epoch, accuracy(*train_set.tensors), accuracy(val_cats, val_nums, val_target))
