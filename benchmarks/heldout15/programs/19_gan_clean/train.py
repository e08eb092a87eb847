# expected: clean
# Held-out correct program for issue 15: a GAN with two optimizers on a 2-D ring of Gaussians.
import math

import torch
from torch import nn

torch.manual_seed(1)
Z = 8


def ring(n, modes=8, radius=2.0, std=0.05):
    k = torch.randint(0, modes, (n,))
    ang = 2 * math.pi * k.float() / modes
    centers = torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], 1)
    return centers + std * torch.randn(n, 2)


G = nn.Sequential(
    nn.Linear(Z, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 2)
)
D = nn.Sequential(
    nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)
)
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()

real_data = ring(6000)
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(real_data), batch_size=100, shuffle=True
)
held_out = ring(500)

for epoch in range(4):
    for (real,) in loader:
        b = real.size(0)
        ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
        fake = G(torch.randn(b, Z))

        opt_d.zero_grad()
        d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad()
        g_loss = bce(D(fake), ones)
        g_loss.backward()
        opt_g.step()

    with torch.no_grad():
        samples = G(torch.randn(500, Z))
        radius_err = (samples.norm(dim=1) - 2.0).abs().mean().item()
        d_real = torch.sigmoid(D(held_out)).mean().item()
    print(
        f"epoch {epoch} d_loss {d_loss.item():.3f} g_loss {g_loss.item():.3f} radius_err {radius_err:.3f} D(real_val) {d_real:.3f}"
    )
