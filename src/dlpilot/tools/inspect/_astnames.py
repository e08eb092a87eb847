"""Names read off ``ast`` nodes, shared by every static rule."""

from __future__ import annotations

import ast


def dotted(node: ast.AST | None) -> str:
    """``self.model.fc`` / ``torch.utils.data.DataLoader`` for a chain of names and attributes;
    ``""`` for anything else."""
    # the common cases first: this runs for most call arguments of every indexed file
    if isinstance(node, ast.Name):
        return node.id
    if not isinstance(node, ast.Attribute):
        return ""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


__all__ = ["dotted"]
