# expected: clean
# Held-out program for issue 15 (train.select-on-train-metric): Lightning with an EarlyStopping
# callback.
import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

MONITOR = "val_mae"


class HousePrices(L.LightningModule):
    def __init__(self, n_features=10, lr=2e-3):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(n_features, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1)
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)

    def training_step(self, batch, batch_idx):
        x, price = batch
        loss = nn.functional.mse_loss(self(x), price)
        self.log("train_mse", loss, on_step=False, on_epoch=True)
        self.log("train_mae", (self(x) - price).abs().mean(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, price = batch
        pred = self(x)
        self.log("val_mse", nn.functional.mse_loss(pred, price))
        self.log("val_mae", (pred - price).abs().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=1e-5)


def houses(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    price = 2 * x[:, 0] - x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3] + 0.3 * torch.randn(n, generator=g)
    return x, price


if __name__ == "__main__":
    L.seed_everything(8)
    xt, pt = houses(300, 1)
    xv, pv = houses(300, 2)
    stopper = EarlyStopping(monitor=MONITOR, mode="min", patience=3, min_delta=1e-4)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=12,
        callbacks=[stopper],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(
        HousePrices(),
        DataLoader(TensorDataset(xt, pt), batch_size=20, shuffle=True),
        DataLoader(TensorDataset(xv, pv), batch_size=100),
    )
    print("stopped at epoch", trainer.current_epoch, "best", float(stopper.best_score))
