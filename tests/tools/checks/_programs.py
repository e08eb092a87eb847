# ruff: noqa: E501 - the programs are data: scripts written to disk as they are
"""Small real training scripts for the runtime checks: correct ones that must pass clean and
buggy ones that each must be caught. Kept tiny (a few thousand parameters, a few hundred samples)
so each probed run takes seconds on a CPU."""

from __future__ import annotations

from string import Template

# A classifier trained from DataLoaders, with validation. $-placeholders are the knobs the buggy
# variants turn; the defaults make a correct program.
CLASSIFIER = Template("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
N, D, C = 512, 8, 4
X = torch.randn(N, D)
W = torch.randn(D, C)
y = (X @ W).argmax(1)
$data
Xt, yt, Xv, yv = X[:384], y[:384], X[384:], y[384:]
$split
train_loader = DataLoader(TensorDataset(Xt, yt), batch_size=16, shuffle=$shuffle)
val_loader = DataLoader(TensorDataset(Xv, yv), batch_size=32)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, 32)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(32, C)
$extra_layers
    def forward(self, x):
        h = self.drop(F.relu(self.fc1(x)))
        return $head

model = Net()
$init
criterion = $criterion
optimizer = $optimizer

for epoch in range(10):
    model.train()
    for xb, yb in train_loader:
$train_step
    $before_val
    with torch.no_grad():
        total = 0.0
        for xb, yb in val_loader:
            total += criterion(model(xb), yb).item()
    print("epoch", epoch, round(total, 4))
""")

DEFAULTS = {
    "data": "",
    "split": "",
    "shuffle": "True",
    "extra_layers": "",
    "head": "self.fc2(h)",
    "init": "",
    "criterion": "nn.CrossEntropyLoss()",
    "optimizer": "torch.optim.Adam(model.parameters(), lr=1e-2)",
    "train_step": """        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()""",
    "before_val": "model.eval()",
}


def classifier(**knobs: str) -> str:
    unknown = set(knobs) - set(DEFAULTS)
    assert not unknown, unknown
    return CLASSIFIER.substitute({**DEFAULTS, **knobs})


CORRECT: dict[str, str] = {
    "mlp_loader": classifier(),
    "grad_accumulation": classifier(
        train_step="""        loss = criterion(model(xb), yb) / 4
        loss.backward()
        if (step := globals().get("step", 0) + 1) % 4 == 0:
            optimizer.step()
            optimizer.zero_grad()
        globals()["step"] = step"""
    ),
    # the held-out precision cases: SGD with momentum over four micro-batches per step (few
    # optimizer steps, large early updates while the loss falls steadily) must not read as a
    # too-high learning rate
    "grad_accumulation_sgd_momentum": classifier(
        optimizer="torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)",
        train_step="""        loss = criterion(model(xb), yb) / 4
        loss.backward()
        if (step := globals().get("step", 0) + 1) % 4 == 0:
            optimizer.step()
            optimizer.zero_grad()
        globals()["step"] = step""",
    ),
    # warm-up then cosine decay through LambdaLR, stepped per batch: the rate never exceeds the
    # configured one
    "warmup_cosine_lambda": classifier(
        optimizer="""torch.optim.AdamW(model.parameters(), lr=1e-2)
import math
WARMUP, TOTAL = 10, 240
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer, lambda s: min(1.0, (s + 1) / WARMUP) * 0.5 * (1 + math.cos(math.pi * min(s, TOTAL) / TOTAL))
)""",
        train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()""",
    ),
    # OneCycleLR starts far below its peak and climbs to max_lr, which the optimizer was not
    # built with: the peak is the schedule's, not the constructor's
    "onecycle_low_constructor_lr": classifier(
        optimizer="""torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=240, pct_start=0.1)""",
        train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()""",
    ),
    "log_softmax_nll": classifier(
        head="F.log_softmax(self.fc2(h), dim=1)", criterion="nn.NLLLoss()"
    ),
    "frozen_backbone": """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(256, 1, 8, 8); y = (X.mean((1, 2, 3)) > 0).long()
loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
backbone = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten())
for p in backbone.parameters():
    p.requires_grad_(False)
backbone.eval()
head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2))
model = nn.Sequential(backbone, head)
opt = torch.optim.AdamW(head.parameters(), lr=1e-2)
for epoch in range(5):
    head.train()
    for xb, yb in loader:
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
""",
    "manual_sgd": """
import torch
torch.manual_seed(0)
X = torch.randn(256, 5); true_w = torch.randn(5, 1); Y = X @ true_w + 0.1 * torch.randn(256, 1)
w = torch.zeros(5, 1, requires_grad=True); b = torch.zeros(1, requires_grad=True)
model = torch.nn.Linear(5, 1)
for epoch in range(20):
    perm = torch.randperm(256)
    for i in range(0, 256, 32):
        idx = perm[i:i + 32]
        loss = torch.nn.functional.mse_loss(model(X[idx]), Y[idx])
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.05 * p.grad
                p.grad = None
""",
    "lstm_clipping": """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
V, T, N = 20, 12, 256
X = torch.randint(0, V, (N, T)); y = (X[:, 0] % 2).long()
tr = DataLoader(TensorDataset(X[:192], y[:192]), batch_size=16, shuffle=True)
va = DataLoader(TensorDataset(X[192:], y[192:]), batch_size=32)
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 16); self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.out = nn.Linear(32, 2)
    def forward(self, x):
        o, _ = self.lstm(self.emb(x)); return self.out(o[:, -1])
model = M(); opt = torch.optim.Adam(model.parameters(), lr=1e-2); crit = nn.CrossEntropyLoss()
for epoch in range(5):
    model.train()
    for xb, yb in tr:
        opt.zero_grad(); loss = crit(model(xb), yb); loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
    model.eval()
    with torch.inference_mode():
        acc = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in va)
""",
    "bn_cnn_inference_mode": """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(320, 3, 8, 8); y = (X[:, 0].mean((1, 2)) > 0).long() + 2 * (X[:, 1].mean((1, 2)) > 0).long()
tr = DataLoader(TensorDataset(X[:256], y[:256]), batch_size=32, shuffle=True)
va = DataLoader(TensorDataset(X[256:], y[256:]), batch_size=32)
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
crit = nn.CrossEntropyLoss()
def validate():
    model.eval()
    with torch.inference_mode():
        return sum(crit(model(xb), yb).item() for xb, yb in va)
for epoch in range(6):
    model.train()
    for xb, yb in tr:
        opt.zero_grad(); loss = crit(model(xb), yb); loss.backward(); opt.step()
    validate()
""",
    "regression_tanh_mse": """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(400, 6); Y = torch.sin(X[:, :1]) + 0.5 * X[:, 1:2]
tr = DataLoader(TensorDataset(X[:320], Y[:320]), batch_size=16, shuffle=True)
va = DataLoader(TensorDataset(X[320:], Y[320:]), batch_size=40)
model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(8):
    model.train()
    for xb, yb in tr:
        opt.zero_grad(); loss = nn.functional.mse_loss(model(xb), yb); loss.backward(); opt.step()
    model.eval()
    with torch.no_grad():
        v = sum(nn.functional.mse_loss(model(xb), yb).item() for xb, yb in va)
""",
    "bce_logits_amp_scaler": """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(320, 10); Y = (X[:, 0] - X[:, 1] > 0).float().unsqueeze(1)
tr = DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
scaler = torch.amp.GradScaler("cpu")
crit = nn.BCEWithLogitsLoss()
for epoch in range(6):
    for xb, yb in tr:
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            logits = model(xb)
        loss = crit(logits.float(), yb)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
""",
    # minGPT / nanoGPT / Hugging Face style: forward(x, y) returns (logits, loss), no DataLoader
    "loss_returned_by_forward": """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class TinyLM(nn.Module):
    def __init__(self, vocab=12, dim=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim); self.head = nn.Linear(dim, vocab)
    def forward(self, idx, targets=None):
        logits = self.head(torch.tanh(self.emb(idx)))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
data = (torch.arange(12) + torch.randint(0, 12, (40, 1))) % 12
model = TinyLM(); opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
for step in range(150):
    batch = data[torch.randint(0, 40, (16,))]
    _, loss = model(batch[:, :-1], batch[:, 1:])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
""",
}

# name -> (source, ids that must be reported)
BUGGY: dict[str, tuple[str, set[str]]] = {
    "no_zero_grad": (
        classifier(
            train_step="""        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()"""
        ),
        {"loop.zero-grad-missing"},
    ),
    "zero_grad_between_backward_and_step": (
        classifier(
            train_step="""        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()"""
        ),
        {"loop.zero-grad-misplaced"},
    ),
    "no_step": (
        classifier(
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()"""
        ),
        {"loop.step-missing"},
    ),
    "backward_twice": (
        classifier(
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward(retain_graph=True)
        loss.backward()
        optimizer.step()"""
        ),
        {"loop.backward-twice"},
    ),
    "loss_tensor_accumulated": (
        classifier(
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        running = globals().get("running", 0.0) + loss
        globals()["running"] = running"""
        ),
        {"loop.loss-graph-retained"},
    ),
    "eval_never_undone": (
        classifier(
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()"""
        ).replace("    model.train()\n", ""),
        {"mode.eval-during-training"},
    ),
    "validation_in_train_mode_with_grad": (
        classifier(before_val="pass").replace(
            "    with torch.no_grad():\n        total = 0.0\n        for xb, yb in val_loader:\n            total += criterion(model(xb), yb).item()",
            "    if True:\n        total = 0.0\n        for xb, yb in val_loader:\n            total += criterion(model(xb), yb).item()",
        ),
        {"mode.train-during-eval", "mode.eval-grad-enabled"},
    ),
    "softmax_then_cross_entropy": (
        classifier(head="F.softmax(self.fc2(h), dim=1)"),
        {"loss.softmax-before-ce"},
    ),
    "log_softmax_then_cross_entropy": (
        classifier(head="F.log_softmax(self.fc2(h), dim=1)"),
        {"loss.softmax-before-ce"},
    ),
    "sigmoid_then_bce_with_logits": (
        """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(320, 10); Y = (X[:, 0] > 0).float().unsqueeze(1)
tr = DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
opt = torch.optim.Adam(model.parameters(), lr=1e-2); crit = nn.BCEWithLogitsLoss()
for epoch in range(5):
    for xb, yb in tr:
        opt.zero_grad(); loss = crit(model(xb), yb); loss.backward(); opt.step()
""",
        {"loss.sigmoid-before-bce-logits"},
    ),
    "mse_shape_broadcast": (
        """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(320, 4); Y = X.sum(1)
tr = DataLoader(TensorDataset(X, Y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(5):
    for xb, yb in tr:
        opt.zero_grad(); loss = nn.MSELoss()(model(xb), yb); loss.backward(); opt.step()
""",
        {"loss.shape-broadcast"},
    ),
    "label_out_of_range_mid_run": (classifier(data="y[300] = C"), {"loss.label-out-of-range"}),
    "float_class_labels": (classifier(data="y = y.float()"), {"loss.label-dtype"}),
    "integer_targets_for_mse": (
        """
import torch, torch.nn as nn
torch.manual_seed(0)
X = torch.randn(128, 4); Y = (X.sum(1, keepdim=True) > 0).long()
model = nn.Linear(4, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(30):
    opt.zero_grad(); loss = nn.functional.mse_loss(model(X), Y); loss.backward(); opt.step()
""",
        {"loss.label-dtype"},
    ),
    "overconfident_init": (
        classifier(
            init="""with torch.no_grad():
    model.fc2.weight.mul_(60.0)"""
        ),
        {"loss.initial-mismatch"},
    ),
    "nan_in_inputs": (
        classifier(data="X[5:40, 2] = float('nan')"),
        {"data.nonfinite", "loss.nonfinite", "grad.nonfinite", "param.nonfinite"},
    ),
    "nll_on_raw_logits": (classifier(criterion="nn.NLLLoss()"), {"loss.negative"}),
    "unused_layer": (
        classifier(extra_layers="        self.unused = nn.Linear(32, 32)\n"),
        {"grad.no-flow"},
    ),
    "optimizer_misses_a_layer": (
        classifier(optimizer="torch.optim.Adam(model.fc1.parameters(), lr=1e-2)"),
        {"grad.not-in-optimizer"},
    ),
    "zero_learning_rate": (
        classifier(optimizer="torch.optim.SGD(model.parameters(), lr=0.0)"),
        {"param.unchanged"},
    ),
    "huge_learning_rate": (
        classifier(optimizer="torch.optim.Adam(model.parameters(), lr=3.0)"),
        {"lr.too-high"},
    ),
    "warmup_forgot_division": (
        # the warm-up factor should be min(1, (s + 1) / 100); without the division the rate
        # climbs to s + 1 times the configured one
        classifier(
            optimizer="""torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(s + 1, 100))""",
            train_step="""        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()""",
        ),
        {"lr.schedule-mismatch"},
    ),
    "tiny_learning_rate": (
        classifier(optimizer="torch.optim.SGD(model.parameters(), lr=1e-7)"),
        {"lr.too-low"},
    ),
    "dead_relu_bias": (
        classifier(
            init="""with torch.no_grad():
    model.fc1.bias.fill_(-20.0)"""
        ),
        {"act.dead-relu"},
    ),
    "diverging_gradients": (
        """
import torch, torch.nn as nn
torch.manual_seed(0)
X = torch.randn(256, 8); Y = X @ torch.randn(8, 1)
model = nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=1.1)
while True:
    opt.zero_grad(); loss = nn.functional.mse_loss(model(X), Y); loss.backward(); opt.step()
""",
        {"grad.exploding"},
    ),
    "deep_sigmoid_vanishing": (
        """
import torch, torch.nn as nn
torch.manual_seed(0)
X = torch.randn(256, 16); y = torch.randint(0, 2, (256,))
layers = []
for i in range(12):
    lin = nn.Linear(16, 16); nn.init.normal_(lin.weight, std=0.05); layers += [lin, nn.Sigmoid()]
model = nn.Sequential(*layers, nn.Linear(16, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 256, 32):
        opt.zero_grad(); loss = nn.functional.cross_entropy(model(X[i:i+32]), y[i:i+32]); loss.backward(); opt.step()
""",
        {"grad.vanishing"},
    ),
    "saturated_tanh": (
        """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(320, 8); y = (X[:, 0] > 0).long()
tr = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 2))
with torch.no_grad():
    model[0].weight.mul_(40.0)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(4):
    for xb, yb in tr:
        opt.zero_grad(); loss = nn.functional.cross_entropy(model(xb), yb); loss.backward(); opt.step()
""",
        {"act.saturated"},
    ),
    "raw_pixel_scale": (classifier(data="X = (X * 60 + 128).clamp(0, 255)"), {"data.unnormalized"}),
    "constant_labels": (classifier(data="y = torch.zeros_like(y)"), {"data.constant"}),
    "sorted_not_shuffled": (
        classifier(
            data="order = y.argsort(); X, y = X[order], y[order]",
            split="Xt, yt = X, y",
            shuffle="False",
        ),
        {"data.train-not-shuffled"},
    ),
    "validation_is_training_data": (
        classifier(split="Xv, yv = Xt[:96], yt[:96]"),
        {"data.split-overlap"},
    ),
    "skewed_labels": (
        classifier(data="y = (torch.rand(N) < 0.03).long() * (y + 1) % C"),
        {"data.class-imbalance"},
    ),
    "fp16_autocast_without_scaler": (
        """
import torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
X = torch.randn(320, 10); y = (X[:, 0] > 0).long()
tr = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(4):
    for xb, yb in tr:
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = nn.functional.cross_entropy(model(xb).float(), yb)
        loss.backward()
        opt.step()
""",
        {"amp.no-grad-scaler"},
    ),
}

# The overfit test: a model whose forward ignores its input cannot fit a batch of mixed labels.
CANNOT_FIT = classifier(head="self.fc2(F.relu(self.fc1(torch.zeros_like(x))))")
