# expected: data.eval-preprocess-mismatch
# Held-out program for issue 15 (data.eval-preprocess-mismatch): Lightning; the module standardizes
# its inputs with statistics of the training split.
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def sensor_readings(n, seed):
    """Raw sensor values in the hundreds/thousands; the class is which channel spikes."""
    g = torch.Generator().manual_seed(seed)
    base = torch.tensor([900.0, 350.0, 1500.0, 60.0, 720.0, 40.0, 2200.0, 130.0])
    spread = base * 0.1
    y = torch.randint(0, 4, (n,), generator=g)
    x = base + spread * torch.randn(n, 8, generator=g)
    x[torch.arange(n), y * 2] += 2.5 * spread[y * 2]
    return x, y


class SensorClassifier(L.LightningModule):
    def __init__(self, mean, std, lr=5e-3):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.lr = lr
        self.body = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 4))

    def preprocess(self, raw):
        return (raw - self.mean) / self.std

    def forward(self, z):
        return self.body(z)

    def training_step(self, batch, batch_idx):
        raw, y = batch
        logits = self(self.preprocess(raw))
        loss = F.cross_entropy(logits, y)
        self.log("train_loss", loss, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        raw, y = batch
        logits = self(raw)
        self.log("val_loss", F.cross_entropy(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        return {"optimizer": opt, "lr_scheduler": sched}


if __name__ == "__main__":
    L.seed_everything(4)
    x_tr, y_tr = sensor_readings(2000, 1)
    x_va, y_va = sensor_readings(500, 2)
    module = SensorClassifier(x_tr.mean(dim=0), x_tr.std(dim=0))
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(
        module,
        train_dataloaders=DataLoader(TensorDataset(x_tr, y_tr), batch_size=50, shuffle=True),
        val_dataloaders=DataLoader(TensorDataset(x_va, y_va), batch_size=250),
    )
    print({k: round(float(v), 4) for k, v in trainer.callback_metrics.items()})
