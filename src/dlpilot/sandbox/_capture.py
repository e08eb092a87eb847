"""Bounded capture of one output stream: keeps the head and the tail, counts what falls between."""

from __future__ import annotations

TAIL_LINES = 40
"""Lines kept in a result's ``*_tail``: enough for a traceback, short enough for a message."""


class BoundedCapture:
    """Keeps the first ``limit // 2`` bytes and the last ``limit - limit // 2`` bytes of a stream.

    Memory stays within ``limit`` plus one read chunk however much the child writes.
    """

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]

    @property
    def omitted(self) -> int:
        """Bytes written by the child that were not kept."""
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        """Head, a note of what was left out (if anything), then tail."""
        head = self._head.decode("utf-8", "replace")
        tail = self._tail.decode("utf-8", "replace")
        if self.omitted == 0:
            return head + tail
        return f"{head}\n[... dlpilot left out {self.omitted} bytes of output ...]\n{tail}"

    def tail_text(self, max_lines: int = TAIL_LINES) -> str:
        """The last ``max_lines`` lines (at most ``limit // 2`` bytes), without a cut first line."""
        if self.omitted == 0:
            data = bytes(self._head + self._tail)[-self._tail_limit :]
            cut = len(self._head) + len(self._tail) > self._tail_limit
        else:
            data = bytes(self._tail)
            cut = True
        text = data.decode("utf-8", "replace")
        lines = text.splitlines()
        if cut and len(lines) > 1:
            lines = lines[1:]
        return "\n".join(lines[-max_lines:])
