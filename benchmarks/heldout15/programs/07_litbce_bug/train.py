# expected: loss.label-out-of-range
# Held-out program for issue 15 (loss.label-out-of-range with BCEWithLogitsLoss): Lightning, a
# "is it positive" head whose labels come from bucketing a score.
import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

THRESHOLDS = torch.tensor([-0.5, 0.5])


class Reviews(Dataset):
    """Bag-of-words-ish vectors; the label is the bucket of a hidden sentiment score."""

    def __init__(self, n, vocab=200, seed=0):
        g = torch.Generator().manual_seed(seed)
        weights = torch.randn(vocab, generator=torch.Generator().manual_seed(99))
        self.x = (torch.rand(n, vocab, generator=g) < 0.05).float()
        score = self.x @ weights + 0.3 * torch.randn(n, generator=g)
        self.y = torch.bucketize(score, THRESHOLDS)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx]


class SentimentHead(L.LightningModule):
    def __init__(self, vocab=200, lr=1e-2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(vocab, 64), nn.ReLU())
        self.logit = nn.Linear(64, 1)
        self.crit = nn.BCEWithLogitsLoss()
        self.lr = lr

    def forward(self, bow):
        return self.logit(self.encoder(bow)).squeeze(1)

    def training_step(self, batch, _):
        bow, label = batch
        loss = self.crit(self(bow), label.float())
        self.log("loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, _):
        bow, label = batch
        logit = self(bow)
        self.log("val_loss", self.crit(logit, label.float()))
        self.log("val_acc", ((logit > 0).long() == label).float().mean())

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)


def main():
    L.seed_everything(0)
    train = DataLoader(Reviews(2400, seed=1), batch_size=48, shuffle=True)
    valid = DataLoader(Reviews(480, seed=2), batch_size=240)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(SentimentHead(), train, valid)
    print({k: float(v) for k, v in trainer.callback_metrics.items()})


if __name__ == "__main__":
    main()
