# expected: clean
# Held-out program for issue 15 (data.labels-misaligned): argparse + config dict, data shuffled
# before the split.
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def get_args():
    p = argparse.ArgumentParser(description="churn classifier on synthetic accounts")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-frac", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=2024)
    return p.parse_args()


def synth_accounts(n, g):
    usage = torch.rand(n, 6, generator=g) * torch.tensor([1.0, 10.0, 5.0, 1.0, 3.0, 2.0])
    tenure = torch.rand(n, 1, generator=g) * 60
    feats = torch.cat([usage, tenure / 60], dim=1)
    churn = ((usage[:, 0] < 0.3) & (tenure[:, 0] < 30)) | (usage[:, 1] > 8.5)
    return feats, churn.long()


def shuffled(*tensors, generator):
    order = torch.randperm(len(tensors[0]), generator=generator)
    return tuple(t[order] for t in tensors)


class ChurnModel(nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.norm = nn.LayerNorm(n_in)
        self.mlp = nn.Sequential(nn.Linear(n_in, 48), nn.SiLU(), nn.Linear(48, 48), nn.SiLU())
        self.cls = nn.Linear(48, 2)

    def forward(self, f):
        return self.cls(self.mlp(self.norm(f)))


def main():
    args = get_args()
    config = vars(args)
    torch.manual_seed(config["seed"])
    g = torch.Generator().manual_seed(config["seed"])
    feats, churn = synth_accounts(3000, g)
    feats, churn = shuffled(feats, churn, generator=g)
    cut = int(len(churn) * (1 - config["val_frac"]))
    train_loader = DataLoader(
        TensorDataset(feats[:cut], churn[:cut]), batch_size=config["bs"], shuffle=True
    )
    val_loader = DataLoader(TensorDataset(feats[cut:], churn[cut:]), batch_size=500)

    model = ChurnModel(feats.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(config["epochs"]):
        model.train()
        epoch_loss = 0.0
        for f, c in train_loader:
            optimizer.zero_grad()
            batch_loss = loss_fn(model(f), c)
            batch_loss.backward()
            optimizer.step()
            epoch_loss += batch_loss.item()
        model.eval()
        with torch.no_grad():
            agree = sum((model(f).argmax(-1) == c).float().sum() for f, c in val_loader)
        print(
            f"epoch {epoch + 1}/{config['epochs']} train_loss={epoch_loss / len(train_loader):.4f} "
            f"val_acc={agree.item() / (len(churn) - cut):.4f}"
        )


if __name__ == "__main__":
    main()
