import math

import torch
from torch import nn

torch.manual_seed(0)
V, T, PAD = 50, 12, 0


def batch(n, g):
    lengths = torch.randint(4, T + 1, (n,), generator=g)
    src = torch.randint(1, V, (n, T), generator=g)
    mask = torch.arange(T).expand(n, T) >= lengths.unsqueeze(1)
    src[mask] = PAD
    tgt = src.flip(1).clone()
    tgt[tgt == PAD] = -100
    return src, tgt


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32, padding_idx=PAD)
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(32, V)

    def forward(self, src):
        return self.head(self.enc(self.emb(src), src_key_padding_mask=src == PAD))


model = Tagger()
opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
warmup = 20
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
crit = nn.CrossEntropyLoss(ignore_index=-100, label_smoothing=0.1)
g = torch.Generator().manual_seed(1)
val_src, val_tgt = batch(64, g)
for epoch in range(4):
    model.train()
    for _ in range(25):
        src, tgt = batch(32, g)
        logits = model(src)
        loss = crit(logits.view(-1, V), tgt.view(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        vl = crit(model(val_src).view(-1, V), val_tgt.view(-1)).item()
    print(epoch, vl, math.exp(vl))
