"""Framework facts for the static rules: how Lightning steps the schedulers a
``configure_optimizers`` returns.

Lightning steps a scheduler after every epoch unless its dict says ``"interval": "step"``; the
interval is often written through a module constant (``INTERVAL = "step"``) or a class attribute,
which this resolves, so a rule asks one question: is this scheduler stepped per batch?
"""

from __future__ import annotations

import ast

LIGHTNING_DEFAULT_INTERVAL = "epoch"
"""Lightning's default ``interval`` for a scheduler (also for ``return [opt], [sched]``)."""


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Names bound once to a string literal at module or class level (``INTERVAL = "step"``);
    a name bound twice is left out (its value depends on the path taken)."""
    seen: dict[str, str | None] = {}
    bodies: list[list[ast.stmt]] = [tree.body]
    bodies += [n.body for n in tree.body if isinstance(n, ast.ClassDef)]
    for body in bodies:
        for stmt in body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            for t in targets:
                if not isinstance(t, ast.Name):
                    continue
                text: str | None = None
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    text = value.value
                seen[t.id] = None if t.id in seen else text
    return {k: v for k, v in seen.items() if v is not None}


def scheduler_interval(value: ast.expr | None, constants: dict[str, str]) -> str | None:
    """The ``interval`` a Lightning scheduler dict asks for (its default when left out), or
    ``None`` when it is computed and cannot be read."""
    if value is None:
        return LIGHTNING_DEFAULT_INTERVAL
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.Name):
        return constants.get(value.id)
    if (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and (value.value.id in ("self", "cls") or value.value.id[:1].isupper())
    ):
        return constants.get(value.attr)
    return None


def stepped_per_batch(
    value: ast.expr | None, constants: dict[str, str], frequency: ast.expr | None = None
) -> bool:
    """Whether Lightning steps the scheduler of a dict with this ``interval`` (and ``frequency``)
    after every batch; a frequency other than 1 (``"frequency": steps_per_epoch``) steps it every
    so many batches, which may well be once an epoch."""
    if frequency is not None and not (isinstance(frequency, ast.Constant) and frequency.value == 1):
        return False
    return scheduler_interval(value, constants) == "step"


__all__ = [
    "LIGHTNING_DEFAULT_INTERVAL",
    "scheduler_interval",
    "stepped_per_batch",
    "string_constants",
]
