# expected: clean
# Held-out program for issue 15 (data.augment-on-eval, augmentation as a dataset flag): a small
# trainer class with hooks.
import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


def render_digits(n, seed):
    """12x12 'digits': a 3x3 block at one of 4 places; the class is the place."""
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 4, size=n)
    imgs = rng.normal(0.0, 0.2, size=(n, 1, 12, 12)).astype(np.float32)
    for i, c in enumerate(cls):
        r, col = divmod(int(c), 2)
        imgs[i, 0, 2 + 6 * r : 5 + 6 * r, 2 + 6 * col : 5 + 6 * col] += 1.0
    return torch.from_numpy(imgs), torch.from_numpy(cls).long()


class BlockDigits(Dataset):
    def __init__(self, images, classes, augment=True, max_shift=2, noise=0.3, erase_p=0.3):
        self.images = images
        self.classes = classes
        self.augment = augment
        self.max_shift = max_shift
        self.noise = noise
        self.erase_p = erase_p

    def __len__(self):
        return len(self.classes)

    def _jitter(self, img):
        dy, dx = (
            random.randint(-self.max_shift, self.max_shift),
            random.randint(-self.max_shift, self.max_shift),
        )
        img = torch.roll(img, shifts=(dy, dx), dims=(1, 2))
        img = img + self.noise * torch.randn_like(img)
        if random.random() < self.erase_p:
            y0, x0 = random.randint(0, 8), random.randint(0, 8)
            img[:, y0 : y0 + 4, x0 : x0 + 4] = 0.0
        return img

    def __getitem__(self, i):
        img = self.images[i].clone()
        if self.augment:
            img = self._jitter(img)
        return img, self.classes[i]


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 3, padding=1)
        self.conv2 = nn.Conv2d(12, 24, 3, padding=1)
        self.fc = nn.Linear(24 * 3 * 3, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class Fitter:
    def __init__(self, model, lr, epochs):
        self.model = model
        self.opt = torch.optim.RMSprop(model.parameters(), lr=lr)
        self.epochs = epochs
        self.log = []

    def train_step(self, batch):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def eval_step(self, batch):
        x, y = batch
        logits = self.model(x)
        return F.cross_entropy(logits, y, reduction="sum").item(), (
            logits.argmax(1) == y
        ).sum().item()

    def on_epoch_end(self, epoch, train_loss, val_loss, val_acc):
        self.log.append((epoch, train_loss, val_loss, val_acc))
        print(f"epoch {epoch} loss {train_loss:.4f} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")

    def fit(self, train_dl, val_dl):
        for epoch in range(self.epochs):
            self.model.train()
            losses = [self.train_step(b) for b in train_dl]
            self.model.eval()
            with torch.no_grad():
                sums = [self.eval_step(b) for b in val_dl]
            n = len(val_dl.dataset)
            self.on_epoch_end(
                epoch,
                sum(losses) / len(losses),
                sum(s[0] for s in sums) / n,
                sum(s[1] for s in sums) / n,
            )


if __name__ == "__main__":
    random.seed(5)
    torch.manual_seed(5)
    x_all, y_all = render_digits(1500, seed=5)
    train_set = BlockDigits(x_all[:1200], y_all[:1200])
    val_set = BlockDigits(x_all[1200:], y_all[1200:], augment=False)
    fitter = Fitter(SmallCNN(), lr=1e-3, epochs=4)
    fitter.fit(
        DataLoader(train_set, batch_size=40, shuffle=True),
        DataLoader(val_set, batch_size=100),
    )
