"""Lightning with manual optimization: gradient accumulation over 2 batches, clipping, and an
epoch scheduler stepped in on_train_epoch_end (correct)."""

import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

ACCUMULATE = 2

torch.manual_seed(0)
X = torch.randn(2048, 20)
y = (X[:, :4].sum(1) > 0).long() + (X[:, 4] > 1).long()


class Classifier(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.body = nn.Sequential(nn.Linear(20, 64), nn.GELU(), nn.Dropout(0.2))
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        return self.head(self.body(x))

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, t = batch
        loss = F.cross_entropy(self(x), t) / ACCUMULATE
        self.manual_backward(loss)
        if (batch_idx + 1) % ACCUMULATE == 0:
            self.clip_gradients(opt, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
            opt.step()
            opt.zero_grad()
        self.log("train_loss", loss * ACCUMULATE)

    def on_train_epoch_end(self):
        self.lr_schedulers().step()

    def validation_step(self, batch, batch_idx):
        x, t = batch
        self.log("val_loss", F.cross_entropy(self(x), t), prog_bar=False)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=3e-3, weight_decay=0.01)
        return [opt], [torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)]


def main() -> None:
    ds = TensorDataset(X, y)
    train, val = torch.utils.data.random_split(ds, [1792, 256])
    trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_epochs=10,
    )
    trainer.fit(
        Classifier(),
        DataLoader(train, batch_size=32, shuffle=True),
        DataLoader(val, batch_size=128),
    )


if __name__ == "__main__":
    main()
