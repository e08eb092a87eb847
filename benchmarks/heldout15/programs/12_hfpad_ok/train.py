# expected: clean
# Held-out program for issue 15 (loss.padding-not-ignored): an HF-style loop, `model(**batch)`
# returns the loss and a collate function pads inputs and labels.
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

PAD_ID = 0
LABEL_PAD = -100
VOCAB = 60
N_TAGS = 4


class ToyTaggingSet(Dataset):
    """Token sequences of very uneven length; each token's tag is a function of it and its left
    neighbour."""

    def __init__(self, n, seed):
        rnd = random.Random(seed)
        self.items = []
        for _ in range(n):
            length = rnd.choice([3, 4, 5, 6, 8]) if rnd.random() < 0.85 else rnd.randint(30, 48)
            ids = [rnd.randint(1, VOCAB - 1) for _ in range(length)]
            tags = [(tok + (ids[i - 1] if i else 0)) % N_TAGS for i, tok in enumerate(ids)]
            self.items.append({"input_ids": ids, "labels": tags})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@dataclass
class PadCollator:
    pad_id: int = PAD_ID
    label_pad: int = LABEL_PAD

    def __call__(self, features):
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), width), self.label_pad, dtype=torch.long)
        mask = torch.zeros(len(features), width, dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            ids[row, :n] = torch.tensor(f["input_ids"])
            labels[row, :n] = torch.tensor(f["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class TinyTagger(nn.Module):
    def __init__(self, vocab=VOCAB, dim=48, n_tags=N_TAGS):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=PAD_ID)
        self.rnn = nn.GRU(dim, dim, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * dim, n_tags)

    def forward(self, input_ids, attention_mask=None, labels=None):
        hidden, _ = self.rnn(self.embed(input_ids))
        logits = self.classifier(hidden)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1))
        return out


def token_accuracy(logits, labels, attention_mask):
    keep = attention_mask.bool()
    return (logits.argmax(-1)[keep] == labels[keep]).float().mean().item()


if __name__ == "__main__":
    torch.manual_seed(17)
    collate = PadCollator()
    train_loader = DataLoader(
        ToyTaggingSet(1200, seed=1), batch_size=32, shuffle=True, collate_fn=collate
    )
    eval_loader = DataLoader(ToyTaggingSet(240, seed=2), batch_size=80, collate_fn=collate)
    model = TinyTagger()
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for epoch in range(4):
        model.train()
        for step, batch in enumerate(train_loader):
            outputs = model(**batch)
            outputs["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            optim.zero_grad()
        model.eval()
        accs = []
        with torch.no_grad():
            for batch in eval_loader:
                outputs = model(**batch)
                accs.append(
                    token_accuracy(outputs["logits"], batch["labels"], batch["attention_mask"])
                )
        print(
            {
                "epoch": epoch,
                "train_loss": round(outputs["loss"].item(), 4),
                "eval_token_acc": sum(accs) / len(accs),
            }
        )
