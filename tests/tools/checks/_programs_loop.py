# ruff: noqa: E501 - the programs are data: scripts written to disk as they are
"""Programs for the loop / mode / schedule classes of the detection issue: clipping before
backward, steps in a validation pass, an epoch scheduler stepped per batch, one optimizer step per
epoch, and gradients that are zero because of a non-differentiable op. Each buggy program names
the ids it must raise and the ids it must not (the wrong ids the old rules gave); each correct one
must stay clean. Written in several styles: the shared classifier template, a shared epoch
function, a trainer class, a config dict."""

from __future__ import annotations

from ._programs import classifier

STEP = """        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()"""

# a shared epoch function used for training and for validation
RUN_EPOCH = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(480, 10)
y = (X[:, :3].sum(1) > 0).long()
train_dl = DataLoader(TensorDataset(X[:384], y[:384]), batch_size=16, shuffle=True)
val_dl = DataLoader(TensorDataset(X[384:], y[384:]), batch_size=16)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()


def run_epoch(loader, train):
    model.train(train)
    total, correct = 0.0, 0
    with torch.set_grad_enabled($grad):
        for xb, yb in loader:
            out = model(xb)
            loss = loss_fn(out, yb)
$update
            total += loss.item()
            correct += (out.argmax(1) == yb).sum().item()
    return total / len(loader), correct / len(loader.dataset)


for epoch in range(6):
    tr = run_epoch(train_dl, train=True)
    va = run_epoch(val_dl, train=False)
    print(epoch, tr, va)
"""

ALWAYS_UPDATE = """            opt.zero_grad()
            loss.backward()
            opt.step()"""

TRAIN_ONLY_UPDATE = """            if train:
                opt.zero_grad()
                loss.backward()
                opt.step()"""

# a trainer class with a config dict, a scheduler and optional clipping
TRAINER = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

cfg = {"epochs": 8, "lr": 3e-3, "batch_size": 8, "clip": 1.0, "step_size": 2}
torch.manual_seed(1)
X = torch.randn(400, 12)
y = (X @ torch.randn(12, 3)).argmax(1)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(12, 48), nn.BatchNorm1d(48), nn.ReLU())
        self.head = nn.Linear(48, 3)

    def forward(self, x):
        return self.head(self.body(x))


class Trainer:
    def __init__(self, model, cfg):
        self.model = model
        self.cfg = cfg
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.01)
        self.sched = $sched
        self.train_dl = DataLoader(TensorDataset(X[:320], y[:320]), batch_size=cfg["batch_size"], shuffle=True)
        self.val_dl = DataLoader(TensorDataset(X[320:], y[320:]), batch_size=32)

    def train_step(self, xb, yb):
$train_step

    def fit(self):
        for epoch in range(self.cfg["epochs"]):
            self.model.train()
            for xb, yb in self.train_dl:
                self.train_step(xb, yb)
                $batch_sched
            $epoch_sched
            self.model.eval()
            with torch.no_grad():
                acc = sum((self.model(xb).argmax(1) == yb).sum().item() for xb, yb in self.val_dl)
            print(epoch, acc)


Trainer(Classifier(), cfg).fit()
"""

TRAINER_STEP = """        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["clip"])
        self.opt.step()"""


def trainer(**knobs: str) -> str:
    values = {
        "sched": 'torch.optim.lr_scheduler.StepLR(self.opt, step_size=cfg["step_size"], gamma=0.5)',
        "train_step": TRAINER_STEP,
        "batch_sched": "pass",
        "epoch_sched": "self.sched.step()",
    }
    values.update(knobs)
    out = TRAINER
    for k, v in values.items():
        out = out.replace("$" + k, v)
    return out


BUGGY: dict[str, tuple[str, set[str], set[str]]] = {
    # (source, ids it must raise, ids it must not raise)
    "clip_before_backward": (
        classifier(
            train_step="""        optimizer.zero_grad()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()"""
        ),
        {"loop.clip-before-backward"},
        set(),
    ),
    "clip_value_after_step": (
        "from torch.nn.utils import clip_grad_value_\n"
        + classifier(
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        clip_grad_value_(model.parameters(), 0.5)"""
        ),
        {"loop.clip-before-backward"},
        set(),
    ),
    "trainer_clips_before_backward": (
        trainer(
            train_step="""        self.opt.zero_grad()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["clip"])
        loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()
        self.opt.step()"""
        ),
        {"loop.clip-before-backward"},
        set(),
    ),
    "run_epoch_steps_in_validation": (
        RUN_EPOCH.replace("$grad", "True").replace("$update", ALWAYS_UPDATE),
        {"mode.step-during-eval"},
        {"mode.eval-during-training"},
    ),
    "run_epoch_steps_in_validation_grad_flag": (
        RUN_EPOCH.replace("$grad", "train")
        .replace(
            "$update",
            """            if not torch.is_grad_enabled():
                continue
            opt.zero_grad()
            loss.backward()
            opt.step()""",
        )
        .replace("with torch.set_grad_enabled(train):", "with torch.enable_grad():"),
        {"mode.step-during-eval"},
        {"mode.eval-during-training"},
    ),
    "cosine_epochs_stepped_per_batch": (
        classifier(
            init="scheduler = None",
            optimizer="torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\nscheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)",
            train_step=STEP + "\n        scheduler.step()",
        ),
        {"lr.schedule-mismatch"},
        set(),
    ),
    "trainer_steplr_per_batch": (
        trainer(batch_sched="self.sched.step()", epoch_sched="pass"),
        {"lr.schedule-mismatch"},
        set(),
    ),
    "multistep_epoch_milestones_per_batch": (
        classifier(
            optimizer="torch.optim.Adam(model.parameters(), lr=1e-2)\nscheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4, 6], gamma=0.1)",
            train_step=STEP + "\n        scheduler.step()",
        ),
        {"lr.schedule-mismatch"},
        set(),
    ),
    "exponential_per_batch": (
        classifier(
            optimizer="torch.optim.Adam(model.parameters(), lr=1e-2)\nscheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)",
            train_step=STEP + "\n        scheduler.step()",
        ),
        {"lr.schedule-mismatch"},
        set(),
    ),
    "step_dedented_out_of_batch_loop": (
        classifier(
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
    optimizer.step()"""
        ),
        {"loop.zero-grad-misplaced"},
        set(),
    ),
    "trainer_steps_once_per_epoch": (
        trainer(
            train_step="""        self.opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()""",
            epoch_sched="self.opt.step()",
        ),
        {"loop.zero-grad-misplaced"},
        set(),
    ),
    "rounded_logits_no_gradient": (
        classifier(head="self.fc2(h).round()"),
        {"grad.no-flow"},
        {"loop.zero-grad-misplaced"},
    ),
}

CORRECT: dict[str, str] = {
    "clip_after_backward": classifier(
        train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()"""
    ),
    "accumulation_with_clip_at_step": classifier(
        optimizer="torch.optim.AdamW(model.parameters(), lr=1e-2)\nstep_i = 0",
        train_step="""        loss = criterion(model(xb), yb) / 4
        loss.backward()
        step_i += 1
        if step_i % 4 == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()""",
    ),
    "trainer_clip_steplr_per_epoch": trainer(),
    "run_epoch_updates_only_in_training": RUN_EPOCH.replace("$grad", "train").replace(
        "$update", TRAIN_ONLY_UPDATE
    ),
    "cosine_epochs_stepped_per_epoch": classifier(
        optimizer="torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\nscheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)",
        before_val="scheduler.step()\n    model.eval()",
    ),
    "cosine_counted_in_batches": classifier(
        optimizer="torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\nscheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10 * len(train_loader))",
        train_step=STEP + "\n        scheduler.step()",
    ),
    "onecycle_per_batch_with_clip": classifier(
        optimizer="torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)\nscheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, epochs=10, steps_per_epoch=len(train_loader))",
        train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()""",
    ),
    "linear_warmup_per_batch": classifier(
        optimizer="torch.optim.Adam(model.parameters(), lr=1e-2)\nscheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.001, total_iters=30)",
        train_step=STEP + "\n        scheduler.step()",
    ),
    "full_batch_gradient_per_epoch": classifier(
        train_step="""        loss = criterion(model(xb), yb) / len(train_loader)
        loss.backward()
    optimizer.step()
    optimizer.zero_grad()""",
    ),
}

# functional dropout in the model's forward, with and without the module's training flag
FUNCTIONAL_DROPOUT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(2)
X = torch.randn(400, 16)
y = (X[:, 0] - X[:, 1] > 0).long()
loaders = {
    "train": DataLoader(TensorDataset(X[:320], y[:320]), batch_size=16, shuffle=True),
    "val": DataLoader(TensorDataset(X[320:], y[320:]), batch_size=40),
}


class MLP(nn.Module):
    def __init__(self, p=0.3):
        super().__init__()
        self.p = p
        self.l1 = nn.Linear(16, 64)
        self.l2 = nn.Linear(64, 2)

    def forward(self, x):
        h = F.relu(self.l1(x))
        h = $dropout
        return self.l2(h)


def evaluate(model, loader):
    model.eval()
    hits = 0
    with torch.no_grad():
        for xb, yb in loader:
            hits += (model(xb).argmax(-1) == yb).sum().item()
    return hits / len(loader.dataset)


model = MLP()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(5):
    model.train()
    for xb, yb in loaders["train"]:
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    print(epoch, evaluate(model, loaders["val"]))
"""

BUGGY["functional_dropout_without_training_flag"] = (
    FUNCTIONAL_DROPOUT.replace("$dropout", "F.dropout(h, self.p)"),
    {"mode.dropout-always-on"},
    set(),
)
BUGGY["functional_dropout_in_classifier_head"] = (
    classifier(head="self.fc2(F.dropout(h, p=0.2))"),
    {"mode.dropout-always-on"},
    set(),
)
CORRECT["functional_dropout_with_training_flag"] = FUNCTIONAL_DROPOUT.replace(
    "$dropout", "F.dropout(h, self.p, training=self.training)"
)
# MC dropout on purpose (Dropout modules switched back on after model.eval()): the validation
# pass runs dropout in training mode, which the mode rules report; functional dropout it is not
BUGGY["mc_dropout_modules_switched_on_in_eval"] = (
    classifier(before_val="model.eval()\n    model.drop.train()"),
    {"mode.train-during-eval"},
    {"mode.dropout-always-on"},
)

# A second stage that fine-tunes on another loader with the whole model in eval mode (to keep the
# batch-norm statistics) after all pre-training: training in eval mode, not a validation pass
# that steps (which sits between training epochs).
EVAL_MODE_FINETUNE = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
source_x = torch.randn(640, 8)
source_y = (source_x[:, 0] + source_x[:, 1] > 0).long()
target_x = torch.randn(320, 8) + 0.3
target_y = (target_x[:, 0] + target_x[:, 1] > 0).long()
pretrain = DataLoader(TensorDataset(source_x, source_y), batch_size=32, shuffle=True)
target = DataLoader(TensorDataset(target_x, target_y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(2):
    model.train()
    for xb, yb in pretrain:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
model.eval()  # batch-norm statistics stay those of the source domain
for epoch in range(2):
    for xb, yb in target:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
"""
BUGGY["finetune_stage_in_eval_mode_after_training"] = (
    EVAL_MODE_FINETUNE,
    {"mode.eval-during-training"},
    {"mode.step-during-eval"},
)
