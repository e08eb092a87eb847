"""What the server remembers between calls (the latest reports, for resources)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlpilot.server._roots import Roots


@dataclass
class ServerState:
    roots: Roots
    last: dict[str, Any] = field(default_factory=dict)  # kind -> latest typed result


__all__ = ["ServerState"]
