"""A Lightning ``Trainer`` is built with the probe's bounds as its own limits: only shorter than the
user asked, never longer, and never switching on what the user switched off."""

from __future__ import annotations

from typing import Any

import pytest

from dlpilot.sandbox.probe._frameworks import bounded_trainer_kwargs


def _bounded(**kwargs: Any) -> dict[str, Any]:
    bounded_trainer_kwargs(kwargs, train=20, val=5, epochs=2)
    return kwargs


def test_a_default_trainer_gets_the_probes_batches_and_epochs() -> None:
    kw = _bounded(max_epochs=50)
    assert kw["limit_train_batches"] == 20 and kw["limit_val_batches"] == 5
    assert kw["limit_test_batches"] == 5 and kw["max_epochs"] == 2


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"limit_train_batches": 8}, {"limit_train_batches": 8}),
        ({"limit_train_batches": 0.25}, {"limit_train_batches": 20}),
        ({"limit_val_batches": 0}, {"limit_val_batches": 0}),
        ({"limit_val_batches": 0.0}, {"limit_val_batches": 0.0}),
        ({"max_epochs": 1}, {"max_epochs": 1}),
        ({"max_epochs": -1}, {"max_epochs": 2}),
        ({}, {"max_epochs": 2}),
        ({"val_check_interval": 100}, {"val_check_interval": 20}),
        ({"val_check_interval": 0.5}, {"val_check_interval": 0.5}),
    ],
)
def test_the_users_smaller_limits_are_kept_and_larger_ones_shortened(
    user: dict[str, Any], expected: dict[str, Any]
) -> None:
    kw = _bounded(**user)
    assert {k: kw[k] for k in expected} == expected
