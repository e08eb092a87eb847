"""Lightning with the default logger, a OneCycle schedule stepped per batch through a module
constant, gradient clipping by the Trainer, and EarlyStopping plus ModelCheckpoint on a
validation metric (correct)."""

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, Dataset

SCHED_INTERVAL = "step"


class Blobs(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 4, (n,), generator=g)
        centers = torch.randn(4, 12, generator=torch.Generator().manual_seed(7)) * 2
        self.x = centers[self.y] + torch.randn(n, 12, generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


class LitBlobs(L.LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = nn.Sequential(
            nn.Linear(12, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Linear(48, 4)
        )
        self.criterion = nn.CrossEntropyLoss(label_smoothing=0.05)

    def training_step(self, batch, batch_idx):
        x, t = batch
        loss = self.criterion(self.model(x), t)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, t = batch
        logits = self.model(x)
        self.log("val_loss", self.criterion(logits, t))
        self.log("val_acc", (logits.argmax(-1) == t).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9, nesterov=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.hparams.lr * 4, total_steps=self.trainer.estimated_stepping_batches
        )
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "interval": SCHED_INTERVAL, "frequency": 1},
        }


if __name__ == "__main__":
    L.seed_everything(1)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=3,
        gradient_clip_val=1.0,
        enable_progress_bar=False,
        callbacks=[
            EarlyStopping(monitor="val_acc", mode="max", patience=2),
            ModelCheckpoint(monitor="val_loss", save_top_k=1),
        ],
    )
    trainer.fit(
        LitBlobs(),
        DataLoader(Blobs(3000, 0), batch_size=50, shuffle=True),
        DataLoader(Blobs(400, 1), batch_size=100),
    )
