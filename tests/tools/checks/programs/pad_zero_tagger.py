# A per-position tagger whose padding tag is class 0, passed to cross_entropy as ignore_index:
# class 0 is never a target by design, and the four real tags are balanced. Correct.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
PAD, TAGS, LENGTH, D = 0, 5, 10, 8


def sequences(n):
    x = torch.randn(n, LENGTH, D)
    lengths = torch.randint(3, LENGTH + 1, (n,))
    tags = 1 + x[..., :4].argmax(-1)
    tags[torch.arange(LENGTH)[None, :] >= lengths[:, None]] = PAD
    return x, tags


train_x, train_tags = sequences(1200)
val_x, val_tags = sequences(240)
tagger = nn.Sequential(nn.Linear(D, 32), nn.ReLU(), nn.Linear(32, TAGS))
opt = torch.optim.Adam(tagger.parameters(), lr=3e-3)
loader = DataLoader(TensorDataset(train_x, train_tags), batch_size=48, shuffle=True)
for epoch in range(3):
    tagger.train()
    for xb, tb in loader:
        opt.zero_grad()
        logits = tagger(xb)
        F.cross_entropy(logits.reshape(-1, TAGS), tb.reshape(-1), ignore_index=PAD).backward()
        opt.step()
    tagger.eval()
    with torch.no_grad():
        val = F.cross_entropy(
            tagger(val_x).reshape(-1, TAGS), val_tags.reshape(-1), ignore_index=PAD
        )
    print(epoch, float(val))
