"""The probe's one tensor-tree walker: what it finds, how deep, and that it lets graphs go."""

from __future__ import annotations

import gc
import weakref

import pytest

torch = pytest.importorskip("torch")

from dlpilot.sandbox.probe._tensors import first_tensor, grad_nodes, largest_tensor, walk  # noqa: E402

pytestmark = pytest.mark.slow


class _Alive:
    """A weakly referable object to hang on a graph node."""


def test_walk_finds_the_tensors_of_nested_arguments_in_order() -> None:
    a, b, c = torch.zeros(1), torch.zeros(2), torch.zeros(3)
    found = list(walk(((a, "mask"), {"y": [b]}, 7, c)))
    assert [t.numel() for t in found] == [1, 2, 3]
    assert largest_tensor(((a, "mask"), {"y": [b]}, 7, c)) is c


def test_walk_stops_at_its_depth_and_first_tensor_looks_one_level_deeper() -> None:
    deep = torch.ones(4)
    nested = [[[[deep]]]]  # the tensor sits four levels down
    assert list(walk(nested)) == []
    assert first_tensor(nested) is deep
    assert first_tensor([[[[[deep]]]]]) is None
    assert first_tensor({"no": "tensors"}) is None


def test_looking_at_an_output_keeps_no_autograd_graph_alive() -> None:
    """The retained-graph check reads a live graph as the script's doing: the walker itself
    must not keep one (no reference cycle waiting for the collector)."""
    w = torch.ones(3, requires_grad=True)
    gc.disable()
    try:
        out = {"logits": [w * 2.0], "aux": (w.sum(),)}
        nodes = grad_nodes(out)
        assert len(nodes) == 2
        alive = _Alive()
        nodes[0].metadata["alive"] = alive  # lives exactly as long as the graph
        probe = weakref.ref(alive)
        del nodes, out, alive
        assert probe() is None
    finally:
        gc.enable()
