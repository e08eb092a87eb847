from __future__ import annotations

import pytest

from tests.tools.inspect.code.training._support import ids, lines_of, run

TRAIN_ONLY = """
import torch
best_loss = float("inf")
for epoch in range(50):
    running_loss = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    epoch_loss = running_loss / len(loader)
    if epoch_loss < best_loss:
        best_loss = epoch_loss
        torch.save(model.state_dict(), "best.pt")
"""

WITH_VAL = """
import copy, torch
best, wait = 0.0, 0
for epoch in range(100):
    train_loss, train_acc = train_one_epoch(model, train_loader, optimizer)
    val_loss, val_acc = evaluate(model, val_loader)
    if {metric} > best:
        best = {metric}
        best_state = copy.deepcopy(model.state_dict())
        wait = 0
    else:
        wait += 1
        if wait >= patience:
            break
"""


def test_a_best_checkpoint_chosen_on_the_summed_training_loss_is_reported():
    assert lines_of(TRAIN_ONLY, "train.select-on-train-metric") == [13]


def test_selection_on_a_training_metric_beside_a_validation_one_is_reported():
    assert "train.select-on-train-metric" in ids(WITH_VAL.format(metric="train_acc"))


def test_patience_on_the_value_a_train_function_returns_is_reported():
    src = """
best_loss, bad_epochs = 1e9, 0
for epoch in range(100):
    loss = train(model, loader, opt)
    if loss < best_loss:
        best_loss = loss
        bad_epochs = 0
    else:
        bad_epochs += 1
    if bad_epochs > 5:
        break
"""
    assert "train.select-on-train-metric" in ids(src)


def test_selection_on_a_validation_metric_is_fine():
    assert "train.select-on-train-metric" not in ids(WITH_VAL.format(metric="val_acc"))
    held_out = TRAIN_ONLY.replace(
        "    epoch_loss = running_loss / len(loader)\n",
        "    epoch_loss = evaluate(model, val_loader)\n",
    )
    assert "train.select-on-train-metric" not in ids(held_out)
    score = """
import torch
best = 0
for epoch in range(10):
    train(model, train_loader)
    acc = test(model, test_loader)
    if acc > best:
        best = acc
        torch.save(model, "m.pt")
"""
    assert "train.select-on-train-metric" not in ids(score)


def test_a_comparison_that_only_logs_the_best_training_loss_is_not_reported():
    src = TRAIN_ONLY.replace(
        '        torch.save(model.state_dict(), "best.pt")\n', '        print("new low")\n'
    )
    assert "train.select-on-train-metric" not in ids(src)


_CALLBACKS = """
import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

MONITOR = {monitor!r}


def main(model, dm):
    stop = EarlyStopping(monitor=MONITOR, patience=3)
    keep = ModelCheckpoint(monitor=MONITOR, mode="min")
    L.Trainer(max_epochs=20, callbacks=[stop, keep]).fit(model, dm)
"""


def test_callbacks_monitoring_a_training_metric_through_a_module_constant_are_reported():
    found = run(_CALLBACKS.format(monitor="train_loss"))
    assert [f.id for f in found] == ["train.select-on-train-metric"] * 2
    assert all("train_loss" in f.message for f in found)


def test_a_callback_monitoring_a_training_metric_named_in_place_is_reported():
    text = (
        "from pytorch_lightning.callbacks import EarlyStopping\n"
        'cb = EarlyStopping(monitor="train/acc", mode="max")\n'
    )
    assert ids(text) == ["train.select-on-train-metric"]


@pytest.mark.parametrize("monitor", ["val_loss", "valid/acc", "val_train_gap"])
def test_callbacks_monitoring_a_validation_metric_are_fine(monitor):
    assert ids(_CALLBACKS.format(monitor=monitor)) == []


def test_a_monitor_constant_rebound_later_is_not_guessed():
    text = _CALLBACKS.format(monitor="train_loss") + 'MONITOR = "val_loss"\n'
    assert ids(text) == []
