"""Lazy package attributes (PEP 562), so that importing a package's light result models does not
import its heavy implementation.

The MCP server imports every tool's result model when it starts (their JSON schemas are the
tools' output schemas), and it must answer ``tools/list`` within a second; the functions that do
the work, and what they import (numpy, gitpython, matplotlib, the rule modules), load on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<names[attr]>`` on first access of
    ``attr`` and caches the value in the package's namespace."""

    def __getattr__(attr: str) -> Any:
        module = names.get(attr)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), attr)
        setattr(importlib.import_module(package), attr, value)
        return value

    return __getattr__


__all__ = ["lazy_exports"]
