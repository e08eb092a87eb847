# expected: mode.dropout-always-on
# Held-out program for issue 15 (mode.dropout-always-on): a LightningModule + Trainer.
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def tabular(n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 24, generator=gen)
    w = torch.randn(24, 3, generator=torch.Generator().manual_seed(123))
    y = (x @ w + 0.5 * torch.randn(n, 3, generator=gen)).argmax(dim=1)
    return x, y


class TabularMLP(L.LightningModule):
    def __init__(self, width=96, drop=0.3, lr=3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.inp = nn.Linear(24, width)
        self.mid = nn.Linear(width, width)
        self.cls = nn.Linear(width, 3)

    def forward(self, x):
        h = F.gelu(self.inp(x))
        h = F.dropout(h, p=self.hparams.drop)
        h = F.gelu(self.mid(h))
        h = F.dropout(h, p=self.hparams.drop)
        return self.cls(h)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    L.seed_everything(11)
    xtr, ytr = tabular(2000, seed=1)
    xva, yva = tabular(400, seed=2)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=200)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(TabularMLP(), train_loader, val_loader)
    print(trainer.callback_metrics)
