from __future__ import annotations

from dlpilot.tools.inspect.code.training._flow import effects, scope_effects
from dlpilot.tools.inspect.code.training._index import index_of
from tests.tools.inspect.code.training._support import source

LOOP = """
import torch
for x, y in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
model.eval()
"""


def test_a_scopes_effects_are_computed_once_for_every_rule_that_asks() -> None:
    ix = index_of(source(LOOP))
    assert ix is not None
    scope = ix.scopes[0]
    first = scope_effects(ix, scope)
    assert scope_effects(ix, scope) is first
    assert first == effects(ix, scope, scope.events)
    assert [e.kind for e in first if e.kind in {"zero", "backward", "step", "eval"}] == [
        "zero",
        "backward",
        "step",
        "eval",
    ]
