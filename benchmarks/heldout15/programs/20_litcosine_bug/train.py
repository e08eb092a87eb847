# expected: lr.schedule-mismatch
# Held-out program for issue 15 (lr.schedule-mismatch, epoch scheduler under Lightning): the
# scheduler's interval tells Lightning how often to step it.
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 5
INTERVAL = "step"


class Autoencoder(L.LightningModule):
    def __init__(self, dim=32, code=6, lr=3e-3):
        super().__init__()
        self.lr = lr
        self.enc = nn.Sequential(nn.Linear(dim, 64), nn.ELU(), nn.Linear(64, code))
        self.dec = nn.Sequential(nn.Linear(code, 64), nn.ELU(), nn.Linear(64, dim))

    def forward(self, x):
        return self.dec(self.enc(x))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        loss = F.mse_loss(self(x), x)
        self.log("recon", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        (x,) = batch
        self.log("val_recon", F.mse_loss(self(x), x))

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS, eta_min=1e-5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": cosine, "interval": INTERVAL}}


def low_rank(n, seed):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(5, 32, generator=torch.Generator().manual_seed(0))
    return torch.randn(n, 5, generator=g) @ basis + 0.05 * torch.randn(n, 32, generator=g)


if __name__ == "__main__":
    L.seed_everything(31)
    train = DataLoader(TensorDataset(low_rank(2000, 1)), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(low_rank(400, 2)), batch_size=200)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=EPOCHS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(Autoencoder(), train, val)
    print({k: float(v) for k, v in trainer.callback_metrics.items()})
