from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of

HEAD = """
import torch
import torch.nn as nn
from torch.nn.utils import clip_grad_norm_
model = Net()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
"""


def test_clipping_before_backward_is_reported_in_its_common_spellings():
    for clip in [
        "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
        "clip_grad_norm_(model.parameters(), max_norm=1.0)",
        "nn.utils.clip_grad_value_(model.parameters(), 0.5)",
    ]:
        src = (
            HEAD
            + f"""
for x, y in loader:
    optimizer.zero_grad()
    out = model(x)
    loss = criterion(out, y)
    {clip}
    loss.backward()
    optimizer.step()
"""
        )
        assert lines_of(src, "loop.clip-before-backward") == [13], clip


def test_clipping_before_backward_in_a_step_method_is_reported():
    src = (
        HEAD
        + """
class Trainer:
    def train_step(self, batch):
        self.opt.zero_grad()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        loss = self.model(**batch).loss
        loss.backward()
        self.opt.step()
"""
    )
    assert "loop.clip-before-backward" in ids(src)


def test_clipping_after_backward_or_with_amp_unscale_is_fine():
    plain = (
        HEAD
        + """
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
"""
    )
    amp = (
        HEAD
        + """
scaler = torch.cuda.amp.GradScaler()
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda"):
        loss = criterion(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
"""
    )
    accum = (
        HEAD
        + """
for i, (x, y) in enumerate(loader):
    loss = criterion(model(x), y) / 4
    loss.backward()
    if (i + 1) % 4 == 0:
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
"""
    )
    for src in (plain, amp, accum):
        assert "loop.clip-before-backward" not in ids(src)


_AFTER_STEP = """
import torch
from torch.nn.utils import clip_grad_value_

for epoch in range(10):
    for xb, yb in loader:
        opt.zero_grad()
        loss = crit(model(xb), yb)
        loss.backward()
        opt.step()
        {clip}
"""


def test_clipping_after_the_step_on_gradients_already_used_is_reported():
    text = _AFTER_STEP.format(clip="clip_grad_value_(model.parameters(), 0.5)")
    assert ids(text) == ["loop.clip-before-backward"]
    assert lines_of(text, "loop.clip-before-backward") == [11]


def test_measuring_the_norm_after_the_step_with_an_infinite_bound_is_fine():
    text = _AFTER_STEP.format(
        clip='norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))'
    )
    assert ids(text) == []


def test_a_gan_clipping_its_generator_after_the_discriminator_step_is_fine():
    text = """
import torch
for real in loader:
    d_opt.zero_grad()
    d_loss(D, G, real).backward()
    d_opt.step()
    g_opt.zero_grad()
    g_loss(D, G).backward()
    torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0)
    g_opt.step()
"""
    assert ids(text) == []


def test_a_step_dedented_out_of_the_batch_loop_is_reported():
    src = (
        HEAD
        + """
for epoch in range(10):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
    optimizer.step()
"""
    )
    assert lines_of(src, "loop.zero-grad-misplaced") == [14]


def test_a_step_after_the_batch_loop_of_a_train_function_is_reported():
    src = (
        HEAD
        + """
def train_one_epoch(model, loader, opt):
    model.train()
    for batch in loader:
        opt.zero_grad()
        loss = model(batch).mean()
        loss.backward()
    opt.step()
"""
    )
    assert "loop.zero-grad-misplaced" in ids(src)


def test_accumulation_that_clears_only_after_the_step_is_fine():
    src = (
        HEAD
        + """
for epoch in range(10):
    optimizer.zero_grad()
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
    optimizer.step()
"""
    )
    per_batch = (
        HEAD
        + """
for epoch in range(10):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    scheduler.step()
"""
    )
    assert "loop.zero-grad-misplaced" not in ids(src)
    assert "loop.zero-grad-misplaced" not in ids(per_batch)


RUN_EPOCH = """
import torch
import torch.nn.functional as F

def run_epoch(model, loader, optimizer, train=True):
    if train:
        model.train()
    else:
        model.eval()
    total = 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)

for epoch in range(20):
    tr = run_epoch(model, train_loader, optimizer, train=True)
    va = run_epoch(model, val_loader, optimizer, train=False)
"""


def test_a_shared_epoch_function_that_steps_when_called_for_validation_is_reported():
    found = ids(RUN_EPOCH)
    assert "mode.step-during-eval" in found
    assert "mode.eval-during-training" not in found
    assert lines_of(RUN_EPOCH, "mode.step-during-eval") == [15]


def test_step_during_eval_is_found_through_a_phase_string_and_a_positional_flag():
    phase = """
import torch

def epoch(model, loader, optimizer, phase):
    model.train() if phase == "train" else model.eval()
    for x, y in loader:
        out = model(x)
        loss = torch.nn.functional.mse_loss(out, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

for e in range(5):
    epoch(net, train_dl, opt, "train")
    epoch(net, valid_dl, opt, "valid")
"""
    positional = """
def step_all(net, data, opt, training):
    net.train(training)
    for x, y in data:
        opt.zero_grad()
        loss = crit(net(x), y)
        loss.backward()
        opt.step()

step_all(net, train_loader, opt, True)
step_all(net, test_loader, opt, False)
"""
    assert "mode.step-during-eval" in ids(phase)
    assert "mode.step-during-eval" in ids(positional)


def test_a_shared_epoch_function_that_guards_its_step_by_the_flag_is_fine():
    guarded = RUN_EPOCH.replace(
        """        optimizer.zero_grad()
        loss.backward()
        optimizer.step()""",
        """        if train:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()""",
    )
    early = RUN_EPOCH.replace(
        """        optimizer.zero_grad()
        loss.backward()""",
        """        if not train:
            continue
        optimizer.zero_grad()
        loss.backward()""",
    )
    for src in (guarded, early):
        assert "mode.step-during-eval" not in ids(src)


def test_a_train_flag_the_body_never_reads_is_step_during_eval_not_eval_during_training():
    src = """
import torch
def run_epoch(loader, train=False):
    total = 0
    for x, y in loader:
        loss = crit(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total

model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    run_epoch(train_loader, train=True)
    model.eval()
    run_epoch(val_loader)
"""
    found = ids(src)
    assert "mode.step-during-eval" in found
    assert "mode.eval-during-training" not in found


LOGGING_HELPER = """
import torch
def log_grads(model, writer, step):
    for n, p in model.named_parameters():
        writer.add_histogram(n, p.grad, step)
    {clear}

model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step, (x, y) in enumerate(loader):
    optimizer.zero_grad()
    loss = crit(model(x), y)
    loss.backward()
    log_grads(model, writer, step)
    optimizer.step()
"""


def test_a_logging_helper_that_clears_the_gradients_before_the_step_is_reported():
    src = LOGGING_HELPER.format(clear="model.zero_grad()")
    assert lines_of(src, "loop.zero-grad-misplaced") == [14]


def test_a_logging_helper_that_only_reads_the_gradients_is_fine():
    src = LOGGING_HELPER.format(clear="writer.flush()")
    assert "loop.zero-grad-misplaced" not in ids(src)


def test_a_loop_whose_steps_happen_in_a_hook_beside_a_loop_of_another_model_is_fine():
    src = """
import torch
opt_b = torch.optim.SGD(model_b.parameters(), lr=0.1)
for round in range(3):
    for _ in range(6):
        model_a.zero_grad()
        model_a(inp).sum().backward()
    for _ in range(6):
        model_b.zero_grad()
        loss = model_b(inp).sum()
        loss.backward()
        opt_b.step()
"""
    assert "loop.zero-grad-misplaced" not in ids(src)


def test_a_step_after_a_batch_loop_that_calls_a_clearing_train_step_is_reported():
    from tests.tools.checks._programs_loop import BUGGY

    assert ids(BUGGY["trainer_steps_once_per_epoch"][0]) == ["loop.zero-grad-misplaced"]


def test_a_helper_that_only_accumulates_before_a_step_per_epoch_is_fine():
    from tests.tools.checks._programs_loop import trainer

    accumulate = trainer(
        train_step="""        loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()""",
        epoch_sched="self.opt.step()\n            self.opt.zero_grad()",
    )
    assert ids(accumulate) == []
    assert ids(trainer()) == []  # the helper steps itself
