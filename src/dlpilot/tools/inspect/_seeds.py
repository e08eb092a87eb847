"""Reading the seed checklists: their headings and checkbox items, in order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_CHECKBOX = re.compile(r"^\s*(?:[-*•]|\d+\.)\s*\[[ xX]\]\s*(.+?)\s*$")
_PLAIN_HEADING = re.compile(r"^(?:Phase \d+: .+|\d+\. [A-Z][^\[]*)$")


@dataclass(frozen=True)
class SeedItem:
    seed: str  # the file's three-digit prefix, e.g. "000"
    kind: str  # "heading" or "item"
    text: str
    parents: tuple[str, ...]  # enclosing headings, outermost first


def read_seed(path: Path) -> list[SeedItem]:
    seed = path.name[:3]
    items: list[SeedItem] = []
    stack: list[tuple[int, str]] = []  # (level, heading)
    in_fence = False
    # a page saved as plain text: bullets "• [ ]", headings "Phase 1: ..." and "1. Title", and
    # "# ..." lines are comments of its recipes
    plain = "• [" in path.read_text(encoding="utf-8")
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip()
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = None if plain else _MD_HEADING.match(line)
        level, text = (len(m.group(1)), m.group(2)) if m else (0, "")
        if not m and plain and _PLAIN_HEADING.match(line.strip()):
            level, text = (1 if line.strip().startswith("Phase") else 2), line.strip()
        if level:
            while stack and stack[-1][0] >= level:
                stack.pop()
            items.append(SeedItem(seed, "heading", text, tuple(h for _, h in stack)))
            stack.append((level, text))
            continue
        c = _CHECKBOX.match(line)
        if c:
            items.append(SeedItem(seed, "item", c.group(1), tuple(h for _, h in stack)))
    return items


def read_seeds(directory: Path) -> list[SeedItem]:
    return [i for p in sorted(directory.glob("[0-9][0-9][0-9]_*.txt")) for i in read_seed(p)]


__all__ = ["SeedItem", "read_seed", "read_seeds"]
