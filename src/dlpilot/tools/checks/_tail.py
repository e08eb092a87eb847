"""Following a growing JSON-lines file that a child process appends to.

Both kinds of child (the script probe and the entry-point child) write events as JSON lines; the
parent reads the complete lines added since the last poll while the child runs, and once more at
the end. A line that is cut off (the child was killed mid-write) or is not a JSON object is
skipped and counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JsonLinesTail:
    """Each :meth:`poll` returns the JSON objects of the complete lines added since the last."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bad_lines = 0
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return self._parse(lines)

    def finish(self) -> list[dict[str, Any]]:
        """The last poll, also taking a final line that has no newline."""
        out = self.poll()
        if self._partial:
            out += self._parse([self._partial])
            self._partial = b""
        return out

    def _parse(self, lines: list[bytes]) -> list[dict[str, Any]]:
        out = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.bad_lines += 1
                continue
            if isinstance(event, dict):
                out.append(event)
            else:
                self.bad_lines += 1
        return out


__all__ = ["JsonLinesTail"]
