from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of

SCRIPT = """
import torch

MEAN, STD = 120.0, 35.0

def preprocess(x):
    return (x.float() - MEAN) / STD

def train_epoch(model, loader, opt):
    model.train()
    for x, y in loader:
        x = preprocess(x)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total = 0.0
    for x, y in loader:
{eval_input}
        total += torch.nn.functional.mse_loss(model(x), y).item()
    return total / len(loader)

for epoch in range(10):
    train_epoch(model, train_loader, opt)
    print(evaluate(model, {val}))
"""


def _script(eval_input: str = "        pass", val: str = "val_loader") -> str:
    return SCRIPT.format(eval_input=eval_input, val=val)


def test_evaluation_that_skips_the_training_preprocessing_is_reported():
    assert lines_of(_script(), "data.eval-preprocess-mismatch") == [24]


def test_evaluation_that_applies_the_preprocessing_is_fine():
    direct = _script("        x = preprocess(x)")
    helper = _script("        x = prep(x)").replace(
        "@torch.no_grad()", "def prep(x):\n    return preprocess(x)\n\n@torch.no_grad()"
    )
    for src in (direct, helper):
        assert "data.eval-preprocess-mismatch" not in ids(src)


def test_evaluation_data_preprocessed_before_the_call_is_fine():
    src = _script(val="preprocess(x_val)")
    assert "data.eval-preprocess-mismatch" not in ids(src)
    early = _script(val="val_x").replace(
        "for epoch in range(10):", "val_x = preprocess(raw_val)\nfor epoch in range(10):"
    )
    assert "data.eval-preprocess-mismatch" not in ids(early)


def test_preprocessing_outside_the_training_loop_is_not_judged():
    src = _script().replace("        x = preprocess(x)\n", "")
    assert "data.eval-preprocess-mismatch" not in ids(src)


def test_a_validation_score_computed_on_the_training_loader_is_reported():
    src = _script(val="train_loader").replace(
        "    print(evaluate(model, train_loader))", "    val_loss = evaluate(model, train_loader)"
    )
    src = src.replace("        x = preprocess(x)\n", "")
    assert lines_of(src, "data.split-overlap") == [28]


def test_a_training_score_on_the_training_loader_beside_validation_is_fine():
    src = _script().replace(
        "    print(evaluate(model, val_loader))",
        "    train_loss = evaluate(model, train_loader)\n"
        "    val_loss = evaluate(model, val_loader)",
    )
    assert "data.split-overlap" not in ids(src)
