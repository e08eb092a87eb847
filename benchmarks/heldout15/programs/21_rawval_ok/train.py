# expected: clean
# Held-out program for issue 15 (data.eval-preprocess-mismatch): a plain script whose training
# batches go through preprocess(); evaluate() is a separate function.
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(123)


# pixel-like intensities 0..255: bright rows vs bright columns vs diagonal
def scenes(n, g):
    kind = torch.randint(0, 3, (n,), generator=g)
    img = torch.rand(n, 10, 10, generator=g) * 90
    for i, k in enumerate(kind.tolist()):
        j = int(torch.randint(0, 10, (1,), generator=g))
        if k == 0:
            img[i, j, :] += 150
        elif k == 1:
            img[i, :, j] += 150
        else:
            img[i].diagonal().add_(150)
    return img.clamp(0, 255).round(), kind


def preprocess(batch):
    return (batch / 255.0 - 0.35) / 0.25


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.hidden = nn.Linear(100, 64)
        self.drop = nn.Dropout(0.1)
        self.logits = nn.Linear(64, 3)

    def forward(self, img):
        return self.logits(self.drop(torch.relu(self.hidden(self.flat(img)))))


def evaluate(model, loader):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for img, kind in loader:
            pred = model(preprocess(img)).argmax(1)
            right += (pred == kind).sum().item()
            total += len(kind)
    return right / total


gen = torch.Generator().manual_seed(0)
tr_img, tr_kind = scenes(1500, gen)
va_img, va_kind = scenes(300, gen)
train_loader = DataLoader(TensorDataset(tr_img, tr_kind), batch_size=30, shuffle=True)
val_loader = DataLoader(TensorDataset(va_img, va_kind), batch_size=100)

model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    model.train()
    for img, kind in train_loader:
        opt.zero_grad()
        loss = loss_fn(model(preprocess(img)), kind)
        loss.backward()
        opt.step()
    print(
        f"epoch {epoch}: last batch loss {loss.item():.4f}, val acc {evaluate(model, val_loader):.3f}"
    )
