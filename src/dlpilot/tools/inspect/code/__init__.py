"""Static rules on Python code: the training loop (``training``), the project setup (``setup``)."""

from __future__ import annotations

from dlpilot.tools.inspect._base import Rule
from dlpilot.tools.inspect.code import setup, training

RULES: list[type[Rule]] = [*training.RULES, *setup.RULES]
__all__ = ["RULES"]
