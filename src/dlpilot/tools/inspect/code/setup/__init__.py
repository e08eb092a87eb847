"""Static rules (filled in by their issue)."""

from __future__ import annotations

from dlpilot.tools.inspect._base import Rule

RULES: list[type[Rule]] = []
__all__ = ["RULES"]
