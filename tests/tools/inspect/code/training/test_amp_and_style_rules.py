from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of

BODY = """
for x, y in loader:
    optimizer.zero_grad()
    with {cast}:
        loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""


def _loop(cast: str) -> str:
    return "import torch\n" + BODY.format(cast=cast)


def test_float16_autocast_without_a_scaler_is_reported():
    for cast in [
        "torch.cuda.amp.autocast()",
        "torch.autocast('cuda')",
        "torch.autocast(device_type='cuda', dtype=torch.float16)",
        "torch.amp.autocast('cuda', dtype=torch.half)",
    ]:
        assert lines_of(_loop(cast), "amp.no-grad-scaler") == [5], cast


def test_bfloat16_autocast_needs_no_scaler():
    for cast in [
        "torch.autocast('cuda', dtype=torch.bfloat16)",
        "torch.autocast('cpu')",
        "torch.cuda.amp.autocast(dtype=torch.bfloat16)",
        "torch.cuda.amp.autocast(enabled=False)",
    ]:
        assert ids(_loop(cast)) == [], cast


def test_autocast_with_a_grad_scaler_is_fine():
    for scaler in ["torch.amp.GradScaler('cuda')", "torch.cuda.amp.GradScaler()"]:
        src = f"""
import torch
scaler = {scaler}
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda", dtype=torch.float16):
        loss = criterion(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
"""
        assert ids(src) == [], scaler


def test_autocast_for_inference_only_is_fine():
    src = """
import torch
with torch.no_grad(), torch.cuda.amp.autocast():
    out = model(x)
"""
    assert ids(src) == []


def test_mode_methods_named_without_calling_them_are_reported():
    src = """
model.train
for x, y in loader:
    pass
model.eval  # switch to eval
"""
    assert lines_of(src, "loop.mode-call-missing-parens") == [2, 5]
    assert ids("model.train()\nmodel.eval()\nflag = model.training\n") == []


def test_calling_forward_directly_in_a_training_loop_is_reported():
    src = """
for x, y in loader:
    out = model.forward(x)
"""
    assert lines_of(src, "loop.forward-called-directly") == [3]


def test_forward_calls_inside_module_code_are_fine():
    src = """
import torch.nn as nn
class Wrapped(Base):
    def forward(self, x):
        y = super().forward(x)
        return self.inner.forward(y)

class Head(nn.Module):
    def features(self, x):
        return self.backbone.forward(x)

class Double(torch.autograd.Function):
    pass

def helper(self, x):
    return Base.forward(self, x)

out = self.forward(x)
"""
    assert ids(src) == []


def test_forward_of_an_object_that_is_not_a_model_is_not_a_module_call():
    src = """
for x, y in loader:
    pred = parts.forward(model, x)       # a helper that runs the model, not nn.Module.forward
    out = runner.forward(batch)
    z = net.forward(x)
"""
    assert lines_of(src, "loop.forward-called-directly") == [5]
