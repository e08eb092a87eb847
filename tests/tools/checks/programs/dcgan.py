"""A DCGAN trained the way pytorch/examples does it: the discriminator step on real and detached
fake images, then the generator step, whose backward also writes into the discriminator's
gradients (dropped unused by its next zero_grad). Correct: no runtime finding, and the
single-batch overfit test has no verdict for an adversarial pair."""

import random

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

random.seed(0)
np.random.seed(0)
torch.manual_seed(0)
device = "cpu"
nz = 16
# synthetic "images": 1x16x16 blobs in [-1, 1]
N = 256
xs = torch.linspace(-1, 1, 16)
yy, xx = torch.meshgrid(xs, xs, indexing="ij")
centers = torch.rand(N, 2) * 1.2 - 0.6
imgs = torch.exp(
    -(
        ((xx[None] - centers[:, 0, None, None]) ** 2 + (yy[None] - centers[:, 1, None, None]) ** 2)
        / 0.1
    )
)
imgs = (imgs * 2 - 1).unsqueeze(1)
loader = DataLoader(TensorDataset(imgs), batch_size=32, shuffle=True, drop_last=True)


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, 32, 4, 1, 0, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(True),  # 4x4
            nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(True),  # 8x8
            nn.ConvTranspose2d(16, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )  # 16x16

    def forward(self, z):
        return self.net(z)


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),  # 8x8
            nn.Conv2d(16, 32, 4, 2, 1, bias=False),
            nn.BatchNorm2d(32),
            nn.LeakyReLU(0.2, True),  # 4x4
            nn.Conv2d(32, 1, 4, 1, 0, bias=False),
        )  # 1x1

    def forward(self, x):
        return self.net(x).view(-1)


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


netG, netD = G().to(device), D().to(device)
netG.apply(weights_init)
netD.apply(weights_init)
criterion = nn.BCEWithLogitsLoss()
optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
fixed_noise = torch.randn(16, nz, 1, 1)

for epoch in range(2):
    netG.train()
    netD.train()
    for i, (real,) in enumerate(loader):
        real = real.to(device)
        b = real.size(0)
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z))), as pytorch/examples/dcgan does
        netD.zero_grad()
        label = torch.full((b,), 1.0)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        z = torch.randn(b, nz, 1, 1)
        fake = netG(z)
        label.fill_(0.0)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        lossD = errD_real + errD_fake
        optD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake)
        lossG = criterion(output, label)
        lossG.backward()
        optG.step()
        if i % 4 == 0:
            print(f"epoch {epoch} it {i} lossD {lossD.item():.4f} lossG {lossG.item():.4f}")
    netG.eval()
    with torch.no_grad():
        samples = netG(fixed_noise)
    print("sample range", samples.min().item(), samples.max().item())
    torch.save(
        {
            "G": netG.state_dict(),
            "D": netD.state_dict(),
            "optimizerG": optG.state_dict(),
            "optimizerD": optD.state_dict(),
            "epoch": epoch,
        },
        "gan_ckpt.pt",
    )
