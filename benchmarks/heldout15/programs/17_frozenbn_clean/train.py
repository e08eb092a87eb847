# expected: clean
# Held-out correct program for issue 15: a frozen batch-norm backbone (weights frozen, kept in eval
# mode while the head trains), in Lightning.
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def backbone():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class FineTuner(L.LightningModule):
    def __init__(self, pretrained, n_classes=3):
        super().__init__()
        self.features = pretrained
        self.features.requires_grad_(False)
        self.classifier = nn.Linear(32, n_classes)

    def on_train_epoch_start(self):
        self.features.eval()  # running statistics stay those of "pre-training"

    def forward(self, x):
        return self.classifier(self.features(x))

    def training_step(self, batch, _):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        out = self(x)
        self.log("val_loss", F.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.classifier.parameters(), lr=0.05, momentum=0.9)


def colour_patches(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.5 * torch.randn(n, 3, 16, 16, generator=g)
    x[torch.arange(n), y] += 1.0
    return x, y


if __name__ == "__main__":
    L.seed_everything(2)
    net = backbone()
    with torch.no_grad():  # stand-in for loading pretrained weights: settle the BN statistics
        net.train()
        for _ in range(5):
            net(colour_patches(128, 100)[0])
    xtr, ytr = colour_patches(1200, 1)
    xva, yva = colour_patches(300, 2)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(
        FineTuner(net),
        DataLoader(TensorDataset(xtr, ytr), batch_size=40, shuffle=True),
        DataLoader(TensorDataset(xva, yva), batch_size=150),
    )
    print({k: float(v) for k, v in trainer.callback_metrics.items()})
