from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of

HEAD = """
import torch
from torch.optim import lr_scheduler
EPOCHS = 30
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
{sched}
for epoch in range(EPOCHS):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        {inner}
    {outer}
"""


def _script(sched: str, per_batch: bool) -> str:
    step = "scheduler.step()"
    return HEAD.format(
        sched=sched, inner=step if per_batch else "pass", outer="pass" if per_batch else step
    )


EPOCH_SCHEDULERS = [
    "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.1)",
    "scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[10, 20], gamma=0.1)",
    "scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)",
    "scheduler = lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)",
    "scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.9)",
    "step_size = 5\nscheduler = lr_scheduler.StepLR(optimizer, step_size)",
]


def test_an_epoch_measured_scheduler_stepped_per_batch_is_reported():
    for sched in EPOCH_SCHEDULERS:
        src = _script(sched, per_batch=True)
        assert "lr.schedule-mismatch" in ids(src), sched


def test_the_same_schedulers_stepped_once_per_epoch_are_fine():
    for sched in EPOCH_SCHEDULERS:
        assert "lr.schedule-mismatch" not in ids(_script(sched, per_batch=False)), sched


def test_step_measured_schedulers_stepped_per_batch_are_fine():
    for sched in [
        "scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, "
        "total_steps=EPOCHS * len(train_loader))",
        "scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * len(train_loader))",
        "total_steps = EPOCHS * len(train_loader)\n"
        "scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)",
        "scheduler = lr_scheduler.StepLR(optimizer, step_size=2000)",
        "scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.9999)",
    ]:
        assert "lr.schedule-mismatch" not in ids(_script(sched, per_batch=True)), sched


def test_a_scheduler_stepped_in_a_train_function_batch_loop_is_reported_there():
    src = """
import torch
def train_epoch(model, loader, optimizer, scheduler):
    for x, y in loader:
        optimizer.zero_grad()
        loss = model(x, y)
        loss.backward()
        optimizer.step()
        scheduler.step()

optimizer = torch.optim.Adam(model.parameters())
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3)
for epoch in range(10):
    train_epoch(model, loader, optimizer, scheduler)
"""
    assert lines_of(src, "lr.schedule-mismatch") == [9]


WARMUPS_CLIMBING = [
    "lambda s: s",
    "lambda step: min(step, warmup_steps)",
    "lambda step: min(step + 1, 500)",
    "lambda s: (s + 1) / warmup",
    "lambda s: s if s < warmup else 1.0",
]
WARMUPS_FINE = [
    "lambda s: min(1.0, s / warmup)",
    "lambda s: min((s + 1) / warmup_steps, 1.0)",
    "lambda s: min(s, warmup) / warmup",
    "lambda s: s / warmup if s < warmup else 1.0",
    "lambda epoch: 0.95 ** epoch",
    "lambda s: 1 - s / total_steps",
    "lambda s: min(s / warmup, 0.5 * (1 + math.cos(math.pi * s / total)))",
]


def _lambda(fn: str) -> str:
    return f"""
import math, torch
warmup = 500
sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda={fn})
"""


def test_a_warmup_factor_that_climbs_past_one_is_reported():
    for fn in WARMUPS_CLIMBING:
        assert "lr.schedule-mismatch" in ids(_lambda(fn)), fn


def test_a_capped_or_decaying_lambda_factor_is_fine():
    for fn in WARMUPS_FINE:
        assert "lr.schedule-mismatch" not in ids(_lambda(fn)), fn


def test_a_warmup_function_that_returns_the_step_is_reported_and_a_capped_one_is_not():
    bad = """
import torch
def warmup_fn(step):
    if step < WARMUP:
        return step
    return 1.0
sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_fn)
"""
    good = bad.replace("return step\n", "return step / WARMUP\n")
    assert "lr.schedule-mismatch" in ids(bad)
    assert "lr.schedule-mismatch" not in ids(good)


LIGHTNING = """
import torch
import lightning as L

class LitNet(L.LightningModule):
    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
        sched = {sched}
        config = {{"scheduler": sched, "interval": "{interval}"}}
        return {{"optimizer": opt, "lr_scheduler": config}}
"""


def test_a_lightning_module_stepping_an_epoch_scheduler_every_batch_is_reported():
    for sched in [
        "torch.optim.lr_scheduler.StepLR(opt, step_size=10)",
        "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.hparams.epochs)",
    ]:
        src = LIGHTNING.format(sched=sched, interval="step")
        assert "lr.schedule-mismatch" in ids(src), sched


def test_a_lightning_module_with_a_matching_interval_is_fine():
    epoch = LIGHTNING.format(sched="torch.optim.lr_scheduler.StepLR(opt, 10)", interval="epoch")
    steps = LIGHTNING.format(
        sched="torch.optim.lr_scheduler.CosineAnnealingLR("
        "opt, T_max=self.trainer.estimated_stepping_batches)",
        interval="step",
    )
    assert "lr.schedule-mismatch" not in ids(epoch)
    assert "lr.schedule-mismatch" not in ids(steps)


def test_a_scheduler_stepped_only_on_the_last_batch_of_an_epoch_is_fine():
    src = _script(
        "scheduler = lr_scheduler.StepLR(optimizer, step_size=4)", per_batch=True
    ).replace(
        "        scheduler.step()",
        "        if i == len(train_loader) - 1:\n            scheduler.step()",
    )
    assert "lr.schedule-mismatch" not in ids(src)


def test_a_trainer_stepping_its_config_sized_scheduler_beside_a_train_step_call_is_reported():
    from tests.tools.checks._programs_loop import BUGGY

    text = BUGGY["trainer_steplr_per_batch"][0]
    assert ids(text) == ["lr.schedule-mismatch"]


def test_the_same_trainer_stepping_per_epoch_or_sized_in_batches_is_fine():
    from tests.tools.checks._programs_loop import trainer

    assert ids(trainer()) == []
    per_batch = trainer(batch_sched="self.sched.step()", epoch_sched="pass")
    assert ids(per_batch.replace('"step_size": 2}', '"step_size": 2000}')) == []
