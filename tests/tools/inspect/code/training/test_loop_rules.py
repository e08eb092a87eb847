from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of, run_files

HEAD = """
import torch
import torch.nn as nn
import torch.nn.functional as F
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
"""


def test_a_loop_that_never_clears_gradients_is_reported_at_its_step():
    src = (
        HEAD
        + """
for epoch in range(10):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
"""
    )
    assert lines_of(src, "loop.zero-grad-missing") == [13]


def test_clearing_gradients_only_once_before_the_loop_is_reported():
    src = (
        HEAD
        + """
optimizer.zero_grad()
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""
    )
    assert "loop.zero-grad-missing" in ids(src)


def test_a_trainer_method_without_zero_grad_is_reported():
    src = (
        HEAD
        + """
class Trainer:
    def __init__(self, model):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters())

    def fit(self, loader):
        for x, y in loader:
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.opt.step()
"""
    )
    assert "loop.zero-grad-missing" in ids(src)


def test_zero_grad_before_forward_after_step_or_set_to_none_is_fine():
    for clear in [
        "optimizer.zero_grad()",
        "optimizer.zero_grad(set_to_none=True)",
        "model.zero_grad()",
    ]:
        before = (
            HEAD
            + f"""
for x, y in loader:
    {clear}
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""
        )
        after = (
            HEAD
            + f"""
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    {clear}
"""
        )
        assert ids(before) == []
        assert ids(after) == []


def test_setting_param_grads_to_none_counts_as_clearing():
    src = (
        HEAD
        + """
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    for p in model.parameters():
        p.grad = None
"""
    )
    assert ids(src) == []


def test_gradient_accumulation_is_not_reported():
    src = (
        HEAD
        + """
accum = 4
optimizer.zero_grad()
for i, (x, y) in enumerate(loader):
    loss = criterion(model(x), y) / accum
    loss.backward()
    if (i + 1) % accum == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    )
    assert ids(src) == []


def test_manual_sgd_without_an_optimizer_is_not_reported():
    src = """
import torch
w = torch.randn(3, requires_grad=True)
lr = 0.1
for x, y in data:
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        w.grad.zero_()
"""
    assert ids(src) == []


def test_a_zero_grad_inside_a_helper_called_in_the_loop_counts():
    src = (
        HEAD
        + """
def reset(opt):
    opt.zero_grad()

for x, y in loader:
    reset(optimizer)
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""
    )
    assert ids(src) == []


def test_a_step_function_with_no_clearing_anywhere_in_the_project_is_reported():
    step = (
        HEAD
        + """
def train_step(x, y):
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
"""
    )
    assert [f.id for f in run_files({"step.py": step})] == ["loop.zero-grad-missing"]
    other = "def run(opt):\n    opt.zero_grad()\n"
    assert run_files({"step.py": step, "loop.py": other}) == []


def test_deepspeed_engine_steps_and_clears_by_itself():
    src = """
import deepspeed
engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=params)
for batch in loader:
    loss = engine(batch)
    engine.backward(loss)
    engine.step()
"""
    assert ids(src) == []


def test_an_lbfgs_closure_is_not_reported():
    src = (
        HEAD
        + """
opt = torch.optim.LBFGS(model.parameters())
for x, y in loader:
    def closure():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        return loss
    opt.step(closure)
"""
    )
    assert ids(src) == []


def test_zero_grad_between_backward_and_step_is_reported():
    src = (
        HEAD
        + """
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
"""
    )
    assert lines_of(src, "loop.zero-grad-misplaced") == [12]
    assert "loop.zero-grad-missing" not in ids(src)


def test_zero_grad_on_the_model_between_backward_and_step_is_reported():
    src = (
        HEAD
        + """
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    model.zero_grad()
    optimizer.step()
"""
    )
    assert lines_of(src, "loop.zero-grad-misplaced") == [12]


def test_misplaced_clearing_inside_an_accumulation_branch_is_reported():
    src = (
        HEAD
        + """
for i, (x, y) in enumerate(loader):
    loss = criterion(model(x), y)
    loss.backward()
    if (i + 1) % 4 == 0:
        optimizer.zero_grad()
        optimizer.step()
"""
    )
    assert lines_of(src, "loop.zero-grad-misplaced") == [13]


def test_a_gan_clearing_the_other_network_between_backward_and_step_is_fine():
    src = """
import torch
opt_d = torch.optim.Adam(disc.parameters())
opt_g = torch.optim.Adam(gen.parameters())
for real in loader:
    opt_d.zero_grad()
    d_loss = d_loss_fn(disc(real), disc(gen(z)))
    d_loss.backward()
    gen.zero_grad()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = g_loss_fn(disc(gen(z)))
    g_loss.backward()
    opt_g.step()
"""
    assert "loop.zero-grad-misplaced" not in ids(src)
    assert "loop.zero-grad-missing" not in ids(src)


def test_a_forgotten_step_is_reported():
    src = (
        HEAD
        + """
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
"""
    )
    assert lines_of(src, "loop.step-missing") == [12]


def test_a_forgotten_step_in_a_train_function_given_the_optimizer_is_reported():
    src = (
        HEAD
        + """
def train(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()

for epoch in range(3):
    train(model, loader, optimizer)
"""
    )
    assert "loop.step-missing" in ids(src)


def test_a_step_through_the_scaler_or_in_another_file_counts():
    scaled = (
        HEAD
        + """
scaler = torch.amp.GradScaler()
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda"):
        loss = criterion(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
"""
    )
    assert ids(scaled) == []
    split = (
        HEAD
        + """
def compute(x, y):
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
"""
    )
    stepper = "def update(optimizer):\n    optimizer.step()\n"
    assert run_files({"a.py": split, "b.py": stepper}) == []


def test_backward_for_saliency_without_an_optimizer_is_not_reported():
    src = """
import torch
x.requires_grad_(True)
for img in images:
    score = model(img).max()
    score.backward()
    saliency = img.grad.abs()
"""
    assert ids(src) == []


def test_summing_loss_tensors_is_reported():
    for acc in [
        "total_loss += loss",
        "total_loss = total_loss + loss",
        "total_loss += loss * x.size(0)",
        "losses.append(loss)",
    ]:
        src = (
            HEAD
            + f"""
total_loss = 0
losses = []
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    {acc}
"""
        )
        assert lines_of(src, "loop.loss-graph-retained") == [16], acc


def test_summing_detached_losses_is_fine():
    for acc in [
        "total_loss += loss.item()",
        "total_loss += loss.detach()",
        "total_loss += float(loss)",
        "total_loss += loss.item() * x.size(0)",
        "losses.append(loss.item())",
    ]:
        src = (
            HEAD
            + f"""
total_loss = 0
losses = []
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    {acc}
"""
        )
        assert ids(src) == [], acc


def test_summing_losses_to_backpropagate_once_is_fine():
    src = (
        HEAD
        + """
for x, y in loader:
    optimizer.zero_grad()
    loss = 0
    for t in range(steps):
        loss += criterion(model(x[t]), y[t])
    loss.backward()
    optimizer.step()
"""
    )
    assert ids(src) == []


def test_a_loss_replaced_by_its_value_before_summing_is_fine():
    src = (
        HEAD
        + """
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    loss = loss.item()
    total += loss
"""
    )
    assert ids(src) == []


def test_accelerate_backward_counts_as_backward():
    src = """
from accelerate import Accelerator
accelerator = Accelerator()
model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
for x, y in loader:
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    accelerator.backward(loss)
    optimizer.step()
"""
    assert ids(src) == []
    missing = src.replace("    optimizer.zero_grad()\n", "")
    assert "loop.zero-grad-missing" in ids(missing)


DIST_AUTOGRAD = """
import torch
import torch.distributed.autograd as dist_autograd
from torch.distributed.optim import DistributedOptimizer
from torch.distributed.rpc import RRef


def run_trainer(model, loader, criterion):
    opt = DistributedOptimizer(torch.optim.SGD, model.parameter_rrefs(), lr=0.05)
    for epoch in range(3):
        for inputs, labels in loader:
            with dist_autograd.context() as context_id:
                loss = criterion(model(inputs), labels)
                dist_autograd.backward(context_id, [loss])
                opt.step(context_id)
"""


def test_distributed_autograd_loops_need_no_zero_grad():
    # each `with dist_autograd.context()` holds its own gradients: nothing accumulates
    assert "loop.zero-grad-missing" not in ids(DIST_AUTOGRAD)


def test_a_plain_backward_in_the_same_shape_still_needs_zero_grad():
    plain = DIST_AUTOGRAD.replace("dist_autograd.backward(context_id, [loss])", "loss.backward()")
    plain = plain.replace("opt.step(context_id)", "opt.step()")
    assert "loop.zero-grad-missing" in ids(plain)


WORKER = """

def run_worker(rank, world_size, model, loader, criterion):
    if rank == 1:
        run_trainer(model, loader, criterion)
"""


def test_a_worker_calling_a_distributed_autograd_trainer_needs_no_zero_grad():
    # pytorch/examples distributed/rpc: the worker reaches the trainer's loop through a call
    # made outside any loop of its own
    assert "loop.zero-grad-missing" not in ids(DIST_AUTOGRAD + WORKER)
    one_step = """
import torch.distributed.autograd as dist_autograd

def train_step(model, opt, x, y, criterion):
    with dist_autograd.context() as cid:
        dist_autograd.backward(cid, [criterion(model(x), y)])
        opt.step(cid)
"""
    assert "loop.zero-grad-missing" not in ids(one_step)


def test_a_plain_trainer_called_by_a_worker_is_reported_once_at_its_loop():
    plain = DIST_AUTOGRAD.replace("dist_autograd.backward(context_id, [loss])", "loss.backward()")
    plain = plain.replace("opt.step(context_id)", "opt.step()")
    found = [f for f in run_files({"main.py": plain + WORKER}) if f.id == "loop.zero-grad-missing"]
    step_line = 1 + plain.splitlines().index("                opt.step()")
    assert [f.evidence[0].line for f in found] == [step_line]
