# expected: clean
# Held-out correct program for issue 15: gradient accumulation with AdamW (no decay on biases and
# norms), a warm-up, and an HF-style model that returns its loss.
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUMULATE = 4
MICRO_BATCH = 8


class ScoreModel(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.proj = nn.Linear(16, d)
        self.norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.score = nn.Linear(d, 3)
        self.loss_fct = nn.CrossEntropyLoss()

    def forward(self, features, labels=None):
        h = self.proj(features)
        h = h + self.ff(self.norm(h))
        logits = self.score(h)
        loss = self.loss_fct(logits, labels) if labels is not None else None
        return loss, logits


def param_groups(model, wd):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def collate(rows):
    feats, labs = zip(*rows)
    return {"features": torch.stack(feats), "labels": torch.stack(labs)}


torch.manual_seed(5)
A = torch.randn(16, 3, generator=torch.Generator().manual_seed(2))
feats = torch.randn(2400, 16)
labels = (feats @ A).argmax(-1)
train = DataLoader(
    TensorDataset(feats[:2000], labels[:2000]),
    batch_size=MICRO_BATCH,
    shuffle=True,
    collate_fn=collate,
)
dev = DataLoader(TensorDataset(feats[2000:], labels[2000:]), batch_size=200, collate_fn=collate)

model = ScoreModel()
optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=2e-3, betas=(0.9, 0.98))
updates_per_epoch = len(train) // ACCUMULATE
warm = lambda u: min(1.0, (u + 1) / 20)  # noqa: E731
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warm)

global_step = 0
for epoch in range(3):
    model.train()
    optimizer.zero_grad()
    for i, batch in enumerate(train):
        loss, _ = model(**batch)
        (loss / ACCUMULATE).backward()
        if (i + 1) % ACCUMULATE == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            global_step += 1
    model.eval()
    with torch.no_grad():
        dev_loss = sum(model(**b)[0].item() for b in dev) / len(dev)
        dev_acc = sum(
            (model(**b)[1].argmax(-1) == b["labels"]).float().mean().item() for b in dev
        ) / len(dev)
    print(f"epoch {epoch} updates {global_step} dev_loss {dev_loss:.4f} dev_acc {dev_acc:.3f}")
