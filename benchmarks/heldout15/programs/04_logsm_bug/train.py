# expected: loss.softmax-wrong-dim
# Held-out program for issue 15 (loss.softmax-wrong-dim): a plain loop, the log-softmax inside the model.
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


def glyphs(n, seed):
    """8x8 images of one of six bar patterns plus noise."""
    g = torch.Generator().manual_seed(seed)
    kind = torch.randint(0, 6, (n,), generator=g)
    img = 0.4 * torch.randn(n, 1, 8, 8, generator=g)
    for i in range(n):
        k = int(kind[i])
        if k < 3:
            img[i, 0, 2 * k + 1, :] += 1.5
        else:
            img[i, 0, :, 2 * (k - 3) + 1] += 1.5
    return img, kind


class GlyphNet(nn.Module):
    def __init__(self, n_cls=6):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(64, n_cls), nn.LogSoftmax(dim=0))

    def forward(self, img):
        return self.head(self.features(img))


tr_x, tr_y = glyphs(1500, seed=5)
va_x, va_y = glyphs(300, seed=6)
loader = DataLoader(TensorDataset(tr_x, tr_y), batch_size=50, shuffle=True)
val_loader = DataLoader(TensorDataset(va_x, va_y), batch_size=150)

model = GlyphNet()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
nll = nn.NLLLoss()

for epoch in range(5):
    model.train()
    seen, loss_sum = 0, 0.0
    for imgs, cls in loader:
        opt.zero_grad()
        logp = model(imgs)
        loss = nll(logp, cls)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(cls)
        seen += len(cls)
    model.eval()
    with torch.no_grad():
        right = sum((model(v).argmax(1) == t).sum().item() for v, t in val_loader)
    print(f"epoch {epoch}: train nll {loss_sum / seen:.4f}  val acc {right / len(va_y):.3f}")
