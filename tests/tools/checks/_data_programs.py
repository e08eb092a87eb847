# ruff: noqa: E501 - the programs are data: scripts written to disk as they are
"""Small real training programs for the data and loss classes of issue 15 (softmax over the batch,
padding counted by the loss, labels misaligned with their inputs, validation preprocessed
differently, BCE on class indices), each buggy one next to its correct twin, in several styles:
a plain loop, a trainer class, argparse with a config dict, and an HF-style ``model(**batch)``
with a collate function."""

from __future__ import annotations

from string import Template

# --- softmax over the batch ------------------------------------------------------------------------

SOFTMAX_TRAINER = Template("""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(1)
X = torch.randn(320, 10)
y = (X[:, 0] > 0).long() * 2 + (X[:, 1] > 0).long()


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 24), nn.ReLU(), nn.Linear(24, 4))
        self.out = nn.LogSoftmax(dim=$dim)

    def forward(self, x):
        return self.out(self.body(x))


class Trainer:
    def __init__(self, model, lr=1e-2):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.loss_fn = nn.NLLLoss()

    def fit(self, train, val, epochs=6):
        for epoch in range(epochs):
            self.model.train()
            for xb, yb in train:
                self.opt.zero_grad()
                loss = self.loss_fn(self.model(xb), yb)
                loss.backward()
                self.opt.step()
            self.model.eval()
            with torch.no_grad():
                correct = sum((self.model(xb).argmax(1) == yb).sum().item() for xb, yb in val)
            print("epoch", epoch, correct)


train = DataLoader(TensorDataset(X[:256], y[:256]), batch_size=16, shuffle=True)
val = DataLoader(TensorDataset(X[256:], y[256:]), batch_size=32)
Trainer(Classifier()).fit(train, val)
""")

SOFTMAX_CONFIG = Template("""
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=1e-2)
args = p.parse_args()
config = {"lr": args.lr, "steps": 60, "batch": 24, "classes": 3}

torch.manual_seed(2)
X = torch.randn(480, 6)
y = (X[:, 0] + X[:, 1] > 0).long() + (X[:, 2] > 1).long()


class Head(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.fc = nn.Linear(6, classes)

    def forward(self, x):
        probs = F.softmax(self.fc(x), dim=$dim)
        return torch.log(probs + 1e-9)


def train(cfg):
    model = Head(cfg["classes"])
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9)
    for step in range(cfg["steps"]):
        idx = torch.randint(0, len(X), (cfg["batch"],))
        loss = F.nll_loss(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


train(config)
""")

# --- padding counted by the loss -------------------------------------------------------------------

TAGGER_PLAIN = Template("""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)
V, TAGS, T, PAD = 30, 6, 16, 0
# sequences of 3..7 tokens padded to T; tags 1..5 follow the tokens
seqs = []
for _ in range(256):
    n = int(torch.randint(3, 8, ()))
    tok = torch.randint(1, V, (n,))
    seqs.append((tok, $tags))
X = torch.full((256, T), PAD, dtype=torch.long)
Y = torch.full((256, T), $label_pad, dtype=torch.long)
for i, (tok, tag) in enumerate(seqs):
    X[i, : len(tok)] = tok
    Y[i, : len(tag)] = tag

emb = nn.Embedding(V, 16, padding_idx=PAD)
mix = nn.Linear(16, 32)
head = nn.Linear(32, TAGS)
params = [*emb.parameters(), *mix.parameters(), *head.parameters()]
opt = torch.optim.Adam(params, lr=2e-2)

for epoch in range(4):
    for i in range(0, 224, 16):
        xb, yb = X[i : i + 16], Y[i : i + 16]
        logits = head(torch.tanh(mix(emb(xb))))
        loss = F.cross_entropy(logits.reshape(-1, TAGS), yb.reshape(-1)$ignore)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        h = torch.tanh(mix(emb(X[224:])))
        print(epoch, F.cross_entropy(head(h).reshape(-1, TAGS), Y[224:].reshape(-1)$ignore).item())
""")

TAGGER_MAJORITY = """
import torch
import torch.nn as nn
import torch.nn.functional as F

# named-entity style tags: "O" (0) is most tags, spread through every row; no padding
torch.manual_seed(4)
V, TAGS, T = 40, 4, 12
X = torch.randint(0, V, (256, T))
Y = torch.where(X < 28, 0, X % 3 + 1)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 16)
        self.fc = nn.Linear(16, TAGS)

    def forward(self, x):
        return self.fc(self.emb(x)).transpose(1, 2)  # (N, TAGS, T)


model = Tagger()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(4):
    for i in range(0, 224, 16):
        loss = F.cross_entropy(model(X[i : i + 16]), Y[i : i + 16])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, F.cross_entropy(model(X[224:]), Y[224:]).item())
    model.train()
"""

HF_STYLE = Template("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

torch.manual_seed(5)
VOCAB, PAD_ID = 50, 0
LABEL_PAD = $label_pad


def make_example():
    n = int(torch.randint(4, 9, ()))
    ids = torch.randint(1, VOCAB, (n,))
    return {"input_ids": ids, "labels": (ids * 7) % VOCAB}


data = [make_example() for _ in range(320)]


def collate(examples):
    T = 20
    ids = torch.full((len(examples), T), PAD_ID)
    labels = torch.full((len(examples), T), LABEL_PAD)
    mask = torch.zeros(len(examples), T, dtype=torch.long)
    for i, ex in enumerate(examples):
        n = len(ex["input_ids"])
        ids[i, :n] = ex["input_ids"]
        labels[i, :n] = ex["labels"]
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class Output(dict):
    def __getattr__(self, name):
        return self[name]


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 32)
        self.proj = nn.Linear(32, VOCAB)

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.proj(torch.tanh(self.embed(input_ids)))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1))
        return Output(loss=loss, logits=logits)


model = TinyLM()
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
train = DataLoader(data[:256], batch_size=16, shuffle=True, collate_fn=collate)
val = DataLoader(data[256:], batch_size=32, collate_fn=collate)
for epoch in range(3):
    model.train()
    for batch in train:
        out = model(**batch)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        print(epoch, sum(model(**b).loss.item() for b in val))
""")

# --- labels misaligned with their inputs -----------------------------------------------------------

MISALIGNED_CONFIG = Template("""
import argparse
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=8)
cfg = {"epochs": parser.parse_args().epochs, "lr": 3e-3, "hidden": 32, "batch": 16}

torch.manual_seed(6)
X = torch.randn(640, 12)
y = (X[:, :4] @ torch.randn(4, 3)).argmax(1)
$noise
perm = torch.randperm(len(X))
X, y = X[perm], y[$label_perm]
train_ds = TensorDataset(X[:512], y[:512])
val_ds = TensorDataset(X[512:], y[512:])

model = nn.Sequential(nn.Linear(12, cfg["hidden"]), nn.ReLU(), nn.Linear(cfg["hidden"], 3))
opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
crit = nn.CrossEntropyLoss()
train_loader = DataLoader(train_ds, batch_size=cfg["batch"], shuffle=True)
val_loader = DataLoader(val_ds, batch_size=64)
for epoch in range(cfg["epochs"]):
    model.train()
    for xb, yb in train_loader:
        opt.zero_grad()
        crit(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = sum((model(xb).argmax(1) == yb).float().sum().item() for xb, yb in val_loader)
    print(epoch, acc / len(val_ds))
""")

MISALIGNED_SORTED = Template("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(7)
features = torch.randn(600, 8)
labels = (features[:, 0] > 0).long() + (features[:, 1] > 0.5).long() * 2
$reorder


class Pairs(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 32)
        self.b = nn.Linear(32, 4)

    def forward(self, x):
        return self.b(F.gelu(self.a(x)))


net = Net()
optim = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.01)
loader = DataLoader(Pairs(features[:480], labels[:480]), batch_size=16, shuffle=True)
val = DataLoader(Pairs(features[480:], labels[480:]), batch_size=60)
for epoch in range(6):
    net.train()
    for xb, yb in loader:
        loss = F.cross_entropy(net(xb), yb)
        optim.zero_grad()
        loss.backward()
        optim.step()
    net.eval()
    with torch.no_grad():
        print(epoch, sum(F.cross_entropy(net(xb), yb).item() for xb, yb in val))
""")

# --- validation preprocessed differently ----------------------------------------------------------

PREPROCESS_TRAINER = Template("""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(8)
raw = torch.rand(400, 6) * torch.tensor([255.0, 100.0, 50.0, 255.0, 10.0, 80.0])
y = (raw[:, 0] / 255 + raw[:, 1] / 100 > 1).long()
MEAN, STD = raw[:320].mean(0), raw[:320].std(0)


def preprocess(x):
    return (x - MEAN) / STD


class Runner:
    def __init__(self):
        self.model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 2))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=3e-3)
        self.crit = nn.CrossEntropyLoss()

    def train_epoch(self, loader):
        self.model.train()
        for xb, yb in loader:
            xb = preprocess(xb)
            $augment
            self.opt.zero_grad()
            self.crit(self.model(xb), yb).backward()
            self.opt.step()

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        total = 0.0
        for xb, yb in loader:
            total += self.crit(self.model($eval_input), yb).item()
        return total


r = Runner()
train = DataLoader(TensorDataset(raw[:320], y[:320]), batch_size=16, shuffle=True)
val = DataLoader(TensorDataset(raw[320:], y[320:]), batch_size=40)
for epoch in range(5):
    r.train_epoch(train)
    print(epoch, r.evaluate(val))
""")

PREPROCESS_PIXELS = Template("""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)
images = torch.randint(0, 256, (300, 1, 8, 8)).float()
targets = (images[:, 0, :4].mean((1, 2)) > images[:, 0, 4:].mean((1, 2))).long()

model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(512, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def evaluate(x, t):
    model.eval()
    with torch.no_grad():
        out = model($eval_scale)
    model.train()
    return (out.argmax(1) == t).float().mean().item()


for step in range(60):
    idx = torch.randint(0, 240, (20,))
    loss = F.cross_entropy(model(images[idx] / 255.0), targets[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 19:
        print(step, evaluate(images[240:], targets[240:]))
""")

# --- binary cross-entropy on class indices --------------------------------------------------------

BCE_PLAIN = Template("""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(10)
X = torch.randn(320, 5)
y = $targets
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
crit = nn.BCEWithLogitsLoss()
train = DataLoader(TensorDataset(X[:256], y[:256]), batch_size=16, shuffle=True)
val = DataLoader(TensorDataset(X[256:], y[256:]), batch_size=64)
for epoch in range(5):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss = crit(model(xb).squeeze(1), yb.float())
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, sum(crit(model(xb).squeeze(1), yb.float()).item() for xb, yb in val))
""")

BINARY = "(X[:, 0] + X[:, 1] > 0).long()"
THREE_CLASSES = "(X[:, 0] > -0.5).long() + (X[:, 1] > 0.5).long()"

BUGGY: dict[str, tuple[str, set[str]]] = {
    "log_softmax_over_batch_trainer": (
        SOFTMAX_TRAINER.substitute(dim="0"),
        {"loss.softmax-wrong-dim"},
    ),
    "softmax_over_batch_then_log_config": (
        SOFTMAX_CONFIG.substitute(dim="0"),
        {"loss.softmax-wrong-dim"},
    ),
    "padded_tags_no_ignore_index": (
        TAGGER_PLAIN.substitute(label_pad="0", ignore="", tags="tok % 5 + 1"),
        {"loss.padding-not-ignored"},
    ),
    "hf_collate_pads_labels_with_pad_id": (
        HF_STYLE.substitute(label_pad="PAD_ID"),
        {"loss.padding-not-ignored"},
    ),
    "evaluate_feeds_raw_values_trainer": (
        PREPROCESS_TRAINER.substitute(augment="pass", eval_input="xb"),
        {"data.eval-preprocess-mismatch"},
    ),
    "evaluate_forgets_pixel_scaling": (
        PREPROCESS_PIXELS.substitute(eval_scale="x"),
        {"data.eval-preprocess-mismatch"},
    ),
    "bce_with_three_class_targets": (
        BCE_PLAIN.substitute(targets=THREE_CLASSES),
        {"loss.label-out-of-range"},
    ),
}

BUGGY |= {  # data.labels-misaligned, judged with the overfit verdict
    "labels_permuted_separately_config": (
        MISALIGNED_CONFIG.substitute(noise="", label_perm="torch.randperm(len(y))"),
        {"data.labels-misaligned"},
    ),
    "labels_sorted_inputs_not": (
        MISALIGNED_SORTED.substitute(reorder="labels, _ = labels.sort()"),
        {"data.labels-misaligned"},
    ),
}

CORRECT: dict[str, str] = {
    "log_softmax_over_classes_trainer": SOFTMAX_TRAINER.substitute(dim="1"),
    "softmax_over_classes_then_log_config": SOFTMAX_CONFIG.substitute(dim="-1"),
    "padded_tags_ignored": TAGGER_PLAIN.substitute(
        label_pad="0", ignore=", ignore_index=0", tags="tok % 5 + 1"
    ),
    "padded_tags_with_minus_100": TAGGER_PLAIN.substitute(
        label_pad="-100", ignore="", tags="tok % 6"
    ),
    "majority_tag_spread_through_rows": TAGGER_MAJORITY,
    "hf_collate_pads_labels_with_minus_100": HF_STYLE.substitute(label_pad="-100"),
    "labels_permuted_together_config": MISALIGNED_CONFIG.substitute(noise="", label_perm="perm"),
    "labels_noisy_but_aligned_config": MISALIGNED_CONFIG.substitute(
        noise="flip = torch.rand(len(y)) < 0.3\ny = torch.where(flip, torch.randint(0, 3, y.shape), y)",
        label_perm="perm",
    ),
    "pairs_sorted_together": MISALIGNED_SORTED.substitute(
        reorder="labels, order = labels.sort()\nfeatures = features[order]\n"
        "perm = torch.randperm(len(labels))\nfeatures, labels = features[perm], labels[perm]"
    ),
    "evaluate_preprocesses_trainer": PREPROCESS_TRAINER.substitute(
        augment="pass", eval_input="preprocess(xb)"
    ),
    "train_noise_augmentation_trainer": PREPROCESS_TRAINER.substitute(
        augment="xb = xb + 0.3 * torch.randn_like(xb)", eval_input="preprocess(xb)"
    ),
    "evaluate_scales_pixels": PREPROCESS_PIXELS.substitute(eval_scale="x / 255.0"),
    "bce_with_binary_targets": BCE_PLAIN.substitute(targets=BINARY),
}
