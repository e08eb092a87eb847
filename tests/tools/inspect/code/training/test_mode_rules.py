from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of, run_files

HEAD = """
import torch
import torch.nn as nn
import torch.nn.functional as F
model = Net()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""


def test_validation_eval_never_undone_in_a_flat_epoch_loop_is_reported():
    src = (
        HEAD
        + """
model.train()
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for x, y in val_loader:
            acc = (model(x).argmax(1) == y).float().mean()
"""
    )
    assert lines_of(src, "mode.eval-during-training") == [14]


def test_a_validate_function_that_sets_eval_with_train_never_restored_is_reported():
    src = (
        HEAD
        + """
def validate(net, loader):
    net.eval()
    with torch.no_grad():
        return sum((net(x).argmax(1) == y).sum().item() for x, y in loader)

model.train()
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    validate(model, val_loader)
"""
    )
    assert lines_of(src, "mode.eval-during-training") == [19]


def test_train_at_the_start_of_each_epoch_is_fine():
    src = (
        HEAD
        + """
def validate(net, loader):
    net.eval()
    with torch.no_grad():
        return sum((net(x).argmax(1) == y).sum().item() for x, y in loader)

def train_one_epoch(net, loader):
    net.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(net(x), y).backward()
        optimizer.step()

for epoch in range(10):
    train_one_epoch(model, train_loader)
    validate(model, val_loader)
"""
    )
    assert ids(src) == []


def test_a_frozen_teacher_or_batchnorm_kept_in_eval_is_fine():
    src = (
        HEAD
        + """
teacher.eval()
for epoch in range(10):
    model.train()
    model.backbone.eval()
    teacher.eval()
    for x, y in train_loader:
        optimizer.zero_grad()
        with torch.no_grad():
            soft = teacher(x)
        F.kl_div(F.log_softmax(model(x), 1), F.softmax(soft, 1)).backward()
        optimizer.step()
"""
    )
    assert ids(src) == []


def test_a_fresh_model_per_fold_starts_in_train_mode():
    src = """
import torch
for fold in range(5):
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        score = model(xv)
"""
    assert ids(src) == []


def test_an_external_train_function_given_the_model_keeps_the_rule_silent():
    src = (
        HEAD
        + """
from engine import train_one_epoch
for epoch in range(10):
    train_one_epoch(model, train_loader, optimizer)
    optimizer.step()
    model.eval()
"""
    )
    assert "mode.eval-during-training" not in ids(src)


def test_an_evaluate_function_that_never_calls_eval_is_reported():
    src = (
        HEAD
        + """
def train(model, loader):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct

for epoch in range(5):
    train(model, train_loader)
    acc = evaluate(model, test_loader)
"""
    )
    assert lines_of(src, "mode.train-during-eval") == [19]


def test_eval_before_calling_evaluate_is_fine():
    src = (
        HEAD
        + """
def evaluate(model, loader):
    with torch.no_grad():
        return [model(x) for x, _ in loader] and sum(model(x).sum() for x, _ in loader)

def train(model, loader):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

for epoch in range(5):
    train(model, train_loader)
    model.eval()
    acc = evaluate(model, test_loader)
"""
    )
    assert "mode.train-during-eval" not in ids(src)


def test_an_evaluate_method_of_a_trainer_without_eval_is_reported():
    src = """
import torch
class Trainer:
    def __init__(self, model, opt):
        self.model = model
        self.opt = opt

    def train_epoch(self, loader):
        self.model.train()
        for x, y in loader:
            self.opt.zero_grad()
            self.loss_fn(self.model(x), y).backward()
            self.opt.step()

    @torch.no_grad()
    def validate(self, loader):
        return [self.model(x) for x, _ in loader if x is not None] or [
            self.model(x) for x in loader]

    def fit(self, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            self.train_epoch(train_loader)
            self.validate(val_loader)
"""
    assert "mode.train-during-eval" in ids(src)


def test_an_evaluate_function_that_calls_train_is_reported():
    src = (
        HEAD
        + """
def evaluate(model, loader):
    model.train()
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
"""
    )
    assert lines_of(src, "mode.train-during-eval") == [9]


def test_a_validation_loop_without_no_grad_is_reported():
    src = (
        HEAD
        + """
def validate(model, loader):
    model.eval()
    total = 0
    for x, y in loader:
        out = model(x)
        total += F.cross_entropy(out, y).item()
    return total
"""
    )
    assert lines_of(src, "mode.eval-grad-enabled") == [11]


def test_a_flat_validation_loop_without_no_grad_is_reported():
    src = (
        HEAD
        + """
for epoch in range(3):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    for x, y in val_loader:
        val_loss = F.cross_entropy(model(x), y).item()
"""
    )
    assert lines_of(src, "mode.eval-grad-enabled") == [15]


def test_validation_under_no_grad_inference_mode_or_decorator_is_fine():
    for wrap in [
        "with torch.no_grad():",
        "with torch.inference_mode():",
        "with torch.set_grad_enabled(False):",
    ]:
        src = (
            HEAD
            + f"""
def validate(model, loader):
    model.eval()
    {wrap}
        for x, y in loader:
            out = model(x)
"""
        )
        assert ids(src) == [], wrap
    for deco in ["@torch.no_grad()", "@torch.inference_mode()", "@torch.no_grad"]:
        src = (
            HEAD
            + f"""
{deco}
def validate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x)
"""
        )
        assert ids(src) == [], deco


def test_a_validate_function_called_under_no_grad_elsewhere_is_fine():
    helper = """
def evaluate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x)
"""
    caller = """
import torch
from helpers import evaluate
with torch.no_grad():
    evaluate(model, val_loader)
"""
    assert run_files({"helpers.py": helper, "main.py": caller}) == []
    assert [f.id for f in run_files({"helpers.py": helper})] == ["mode.eval-grad-enabled"]


def test_adversarial_evaluation_that_needs_gradients_is_fine():
    src = (
        HEAD
        + """
def evaluate_robustness(model, loader):
    model.eval()
    for x, y in loader:
        x.requires_grad_(True)
        loss = F.cross_entropy(model(x), y)
        grad = torch.autograd.grad(loss, x)[0]
"""
    )
    assert ids(src) == []


def test_lightning_modules_are_left_to_lightning():
    src = """
import torch
import pytorch_lightning as pl
import torch.nn.functional as F
class Lit(pl.LightningModule):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.model(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.model(x), y))

    def test(self, loader):
        for x, y in loader:
            self.model(x)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())
"""
    assert ids(src) == []


def test_hf_trainer_scripts_have_no_findings():
    src = """
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
args = TrainingArguments(output_dir="out", eval_strategy="epoch", fp16=True)
trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds)
trainer.train()
metrics = trainer.evaluate()
"""
    assert ids(src) == []


# Module methods return the module, so a mode set at the end of a call chain is a mode change.
CHAINED = (
    HEAD
    + """
for epoch in range(10):
    model.to(device){restore}
    for x, y in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x.to(device)), y.to(device)).backward()
        optimizer.step()
    model.eval().cpu()
    with torch.no_grad():
        acc = (model(val_x).argmax(1) == val_y).float().mean()
"""
)


def test_train_mode_restored_at_the_end_of_a_call_chain_is_fine():
    assert "mode.eval-during-training" not in ids(CHAINED.format(restore=".train()"))


def test_eval_at_the_head_of_a_call_chain_never_undone_is_reported():
    assert lines_of(CHAINED.format(restore=""), "mode.eval-during-training") == [14]


# The validation helper lives in another module (Pytorch-UNet's eval.py): the mode it leaves the
# model in is followed across the import.
EVAL_LIB = """
import torch

def eval_net(net, loader, device="cpu"):
    net.eval()
    total = 0.0
    for imgs, masks in loader:
        with torch.no_grad():
            total += (net(imgs) > 0).float().mean().item()
    {restore}
    return total / len(loader)
"""

UNET_TRAIN = """
import torch
import torch.nn as nn
from eval import eval_net

net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 1, 1))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
step = 0
for epoch in range(5):
    net.train()
    for imgs, masks in train_loader:
        loss = criterion(net(imgs), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 50 == 0:
            score = eval_net(net, val_loader)
            {after}
"""


def _unet(restore: str = "", after: str = "pass", train: str = UNET_TRAIN) -> list[tuple[str, int]]:
    files = {
        "eval.py": EVAL_LIB.format(restore=restore or "pass"),
        "train.py": train.format(after=after),
    }
    return [
        (f.evidence[0].file or "", f.evidence[0].line or 0)
        for f in run_files(files)
        if f.id == "mode.eval-during-training"
    ]


def test_a_helper_in_another_module_that_leaves_eval_mode_mid_epoch_is_reported():
    assert _unet() == [("train.py", 18)]


def test_a_helper_in_another_module_is_fine_when_train_mode_is_restored():
    assert _unet(restore="net.train()") == []  # by the helper
    assert _unet(after="net.train()") == []  # by the loop, after the call
    # called once per epoch, after the batches, with net.train() at the epoch's start
    per_epoch = UNET_TRAIN.replace(
        "        if step % 50 == 0:\n            score = eval_net(net, val_loader)\n"
        "            {after}\n",
        "    score = eval_net(net, val_loader)\n    {after}\n",
    )
    assert _unet(train=per_epoch) == []


def test_a_helper_defined_in_two_other_modules_is_not_guessed():
    files = {
        "eval.py": EVAL_LIB.format(restore="pass"),
        "legacy/eval.py": EVAL_LIB.format(restore="net.train()"),
        "train.py": UNET_TRAIN.format(after="pass"),
    }
    assert "mode.eval-during-training" not in [f.id for f in run_files(files)]


def test_a_helper_that_rebinds_its_parameter_is_not_followed():
    # `net = net.module` inside the helper: which module ends in eval mode is not the caller's name
    rebinding = EVAL_LIB.replace("    net.eval()\n", "    net = net.module\n    net.eval()\n")
    files = {
        "eval.py": rebinding.format(restore="pass"),
        "train.py": UNET_TRAIN.format(after="pass"),
    }
    assert "mode.eval-during-training" not in [f.id for f in run_files(files)]
