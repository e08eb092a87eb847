"""HF-style loop: the model takes ``**batch`` and returns its own loss; a collate function pads
the sequences and builds the labels (padding masked with -100); AdamW with a linear warm-up and
decay in a LambdaLR stepped per batch (correct)."""

import math
import random

import torch
from torch import nn
from torch.utils.data import DataLoader

PAD = 0
VOCAB = 50
random.seed(0)
torch.manual_seed(0)


def make_example():
    n = random.randint(4, 12)
    ids = [random.randint(1, VOCAB - 1) for _ in range(n)]
    return {"input_ids": ids, "label": int(ids[0] > VOCAB // 2)}


def collate(examples):
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), PAD)
    for i, e in enumerate(examples):
        ids[i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
    return {
        "input_ids": ids,
        "attention_mask": (ids != PAD).long(),
        "labels": torch.tensor([e["label"] for e in examples]),
    }


class SeqClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 32, padding_idx=PAD)
        self.encoder = nn.Sequential(nn.Linear(32, 32), nn.Tanh())
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(32, 2)

    def forward(self, input_ids, attention_mask, labels=None):
        h = self.encoder(self.embed(input_ids))
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (h * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        logits = self.classifier(self.dropout(pooled))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out


def linear_warmup(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def main() -> None:
    train = [make_example() for _ in range(960)]
    val = [make_example() for _ in range(200)]
    train_dl = DataLoader(train, batch_size=32, shuffle=True, collate_fn=collate)
    val_dl = DataLoader(val, batch_size=64, collate_fn=collate)
    model = SeqClassifier()
    epochs = 3
    total = epochs * math.ceil(len(train) / 32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup(20, total))
    for epoch in range(epochs):
        model.train()
        for batch in train_dl:
            outputs = model(**batch)
            outputs["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        model.eval()
        correct = 0
        with torch.no_grad():
            for batch in val_dl:
                logits = model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                )["logits"]
                correct += (logits.argmax(-1) == batch["labels"]).sum().item()
        print(f"epoch {epoch} val acc {correct / len(val):.3f}")


if __name__ == "__main__":
    main()
