"""Complete, correct training programs in several styles: none of the rules for the bug classes
of issue 15 may report anything on them."""

from __future__ import annotations

from dlpilot.tools.inspect.code import RULES
from tests.tools.inspect.code.training._support import run_files

NEW_IDS = {
    "lr.schedule-mismatch",
    "mode.dropout-always-on",
    "loss.softmax-wrong-dim",
    "loop.clip-before-backward",
    "mode.step-during-eval",
    "loop.zero-grad-misplaced",
    "train.select-on-train-metric",
    "data.augment-on-eval",
    "data.labels-misaligned",
    "loss.padding-not-ignored",
    "data.eval-preprocess-mismatch",
    "data.train-not-shuffled",
    "data.split-overlap",
}

WARMUP_COSINE = """
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

class Net(nn.Module):
    def __init__(self, p=0.2):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(32, 64), nn.Linear(64, 4)
        self.p = p

    def forward(self, x):
        x = F.dropout(F.relu(self.fc1(x)), self.p, training=self.training)
        return self.fc2(x)

def make_loader(x, y, train):
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=train)

def run_epoch(model, loader, optimizer, scheduler, train):
    model.train(train)
    total = 0.0
    with torch.set_grad_enabled(train):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            if train:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
            total += loss.item()
    return total / len(loader)

perm = torch.randperm(len(X))
X, Y = X[perm], Y[perm]
train_loader = make_loader(X[:800], Y[:800], train=True)
val_loader = make_loader(X[800:], Y[800:], train=False)
model = Net()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
EPOCHS = 20
total_steps = EPOCHS * len(train_loader)
warmup = total_steps // 20

def lr_lambda(step):
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))

scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
best_val, bad = float("inf"), 0
for epoch in range(EPOCHS):
    train_loss = run_epoch(model, train_loader, optimizer, scheduler, train=True)
    val_loss = run_epoch(model, val_loader, optimizer, scheduler, train=False)
    if val_loss < best_val:
        best_val, bad = val_loss, 0
        torch.save(model.state_dict(), "best.pt")
    else:
        bad += 1
        if bad >= 5:
            break
"""

ONECYCLE_ACCUM_GAN = """
import torch
import torch.nn as nn

model = Classifier()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.OneCycleLR(
    opt, max_lr=0.4, epochs=10, steps_per_epoch=len(train_loader)
)
accum = 4
for epoch in range(10):
    model.train()
    for i, (x, y) in enumerate(train_loader):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(x), y) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            opt.zero_grad()
    model.eval()
    with torch.no_grad():
        val_acc = sum((model(x).argmax(1) == y).sum().item() for x, y in val_loader)

g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
for epoch in range(5):
    for real, _ in loader:
        z = torch.randn(real.size(0), 100)
        fake = G(z)
        d_opt.zero_grad()
        d_loss = bce(D(real), torch.ones(real.size(0), 1)) + bce(
            D(fake.detach()), torch.zeros(real.size(0), 1)
        )
        d_loss.backward()
        d_opt.step()
        g_opt.zero_grad()
        g_loss = bce(D(fake), torch.ones(real.size(0), 1))
        g_loss.backward()
        g_opt.step()
"""


def test_correct_programs_in_several_styles_get_none_of_the_new_findings():
    for name, src in {"warmup.py": WARMUP_COSINE, "onecycle.py": ONECYCLE_ACCUM_GAN}.items():
        found = [
            (f.id, f.evidence[0].line) for f in run_files({name: src}, RULES) if f.id in NEW_IDS
        ]
        assert found == [], name


def test_each_bug_planted_in_the_correct_program_is_caught_with_its_own_id():
    plants = {
        "data.train-not-shuffled": ("shuffle=train", "shuffle=not train"),
        "train.select-on-train-metric": ("if val_loss < best_val", "if train_loss < best_val"),
        "mode.dropout-always-on": ("self.p, training=self.training)", "self.p)"),
        "lr.schedule-mismatch": ("return (step + 1) / warmup", "return step + 1"),
        "data.labels-misaligned": ("X, Y = X[perm], Y[perm]", "X, Y = X[perm], Y"),
    }
    for id_, (old, new) in plants.items():
        assert old in WARMUP_COSINE, old
        src = WARMUP_COSINE.replace(old, new)
        found = {f.id for f in run_files({"warmup.py": src}, RULES)} & NEW_IDS
        assert found == {id_}, (id_, found)
