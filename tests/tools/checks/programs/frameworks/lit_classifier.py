"""A LightningModule trained by a Trainer with no logger, EarlyStopping on a validation metric and
an epoch scheduler given as a dict; more training batches per epoch than the probe's bound
(correct). The tests derive buggy twins from it by replacing one line."""

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(4096, 16)
y = (X[:, 0] + X[:, 1] > 0).long()


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        h = F.dropout(self.body(x), p=0.2, training=self.training)
        return self.head(h)

    def training_step(self, batch, batch_idx):
        x, t = batch
        loss = F.cross_entropy(self(x), t)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, t = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, t))
        self.log("val_acc", (logits.argmax(1) == t).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


if __name__ == "__main__":
    trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        max_epochs=2,
        callbacks=[EarlyStopping(monitor="val_loss", patience=3)],
    )
    trainer.fit(
        Net(),
        DataLoader(TensorDataset(X[:3584], y[:3584]), batch_size=32, shuffle=True),
        DataLoader(TensorDataset(X[3584:], y[3584:]), batch_size=64),
    )
