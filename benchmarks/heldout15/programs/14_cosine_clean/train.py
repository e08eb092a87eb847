# expected: clean
# Held-out correct program for issue 15: linear warm-up then cosine decay, stepped per batch, on a
# tiny Transformer encoder classifier.
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(42)
SEQ, VOCAB, D = 16, 32, 32


def copy_task(n, g):
    """Classify whether the first token reappears later in the sequence."""
    toks = torch.randint(1, VOCAB, (n, SEQ), generator=g)
    target = (toks[:, 1:] == toks[:, :1]).any(dim=1).long()
    return toks, target


class EncoderClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(torch.zeros(1, SEQ, D))
        layer = nn.TransformerEncoderLayer(
            D, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(D, 2)

    def forward(self, toks):
        h = self.encoder(self.tok(toks) + self.pos)
        return self.head(h[:, 0])


def warmup_cosine(total_steps, warmup_steps, floor=0.05):
    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


g = torch.Generator().manual_seed(0)
xs, ys = copy_task(1600, g)
train_dl = DataLoader(TensorDataset(xs[:1280], ys[:1280]), batch_size=32, shuffle=True)
val_dl = DataLoader(TensorDataset(xs[1280:], ys[1280:]), batch_size=160)

model = EncoderClassifier()
epochs = 4
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
total = epochs * len(train_dl)
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer, warmup_cosine(total, warmup_steps=total // 10)
)

for epoch in range(epochs):
    model.train()
    for toks, target in train_dl:
        loss = F.cross_entropy(model(toks), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    model.eval()
    with torch.no_grad():
        acc = torch.cat([(model(t).argmax(1) == y) for t, y in val_dl]).float().mean()
    print(
        f"epoch {epoch} lr {scheduler.get_last_lr()[0]:.2e} loss {loss.item():.3f} val_acc {acc:.3f}"
    )
