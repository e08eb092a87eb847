"""The module index: which parameters of the trained models are frozen."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dlpilot.sandbox.probe._modules import ModuleIndex  # noqa: E402

pytestmark = pytest.mark.slow  # imports torch


class _Ctx:
    def count(self) -> int:
        return 0


def _trained(model: torch.nn.Module) -> ModuleIndex:
    index = ModuleIndex(_Ctx())  # type: ignore[arg-type]
    index.index_top(model)
    index.trained_tops.add(id(model))
    return index


def test_frozen_parameters_of_a_trained_model_are_counted() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    assert _trained(model).frozen_count() == 0
    for p in model[0].parameters():
        p.requires_grad_(False)
    index = _trained(model)
    assert index.frozen_count() == 2  # the backbone's weight and bias
    assert len(index.trained_params()) == 2  # the head's, the only ones trained


def test_models_no_backward_ran_through_are_not_counted() -> None:
    teacher = torch.nn.Linear(4, 3).requires_grad_(False)
    index = ModuleIndex(_Ctx())  # type: ignore[arg-type]
    index.index_top(teacher)
    assert index.frozen_count() == 0
