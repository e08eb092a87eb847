"""The contract of a static inspection rule and what it reads.

Files are streamed: each Python file is read, parsed, shown to every rule's ``visit`` and dropped,
so memory stays bounded by the largest file plus the small facts rules keep. Rules that judge the
project as a whole ("no seed is set anywhere", "no checkpoint is ever saved") note facts in
``visit`` and report in ``finish``. A fresh instance of every rule class is made per inspection.

Rules never import or execute user code: they read ``SourceFile.tree`` (``ast``) and
``SourceFile.text``, and the repository facts on ``Project``. Rules must be cheap: inspecting a few
thousand files may cost at most about twice parsing them, so a rule skips files by cheap text tests
(``"backward" in f.text``) before walking a tree, and walks each tree it needs at most once.
"""

from __future__ import annotations

import ast
from abc import ABC
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from dlpilot.findings import Finding

_T = TypeVar("_T")

TEST_DIRS = frozenset({"test", "tests", "testing", "unittests", "unit_tests", "integration_tests"})


def is_test_path(rel: str) -> bool:
    """True for test code: under a test directory, ``test_*.py``, ``*_test.py``, ``conftest.py``."""
    parts = rel.split("/")
    name = parts[-1]
    if name == "conftest.py" or (
        name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
    ):
        return True
    return any(p in TEST_DIRS for p in parts[:-1])


@dataclass(eq=False)
class SourceFile:
    """One Python file of the project, read and parsed."""

    rel: str  # path relative to the project root, with forward slashes
    path: Path
    text: str
    tree: ast.Module
    # what rules derived from this file once (indexes, facts), keyed by the function that builds it
    _memo: dict[Callable[[SourceFile], object], object] = field(
        default_factory=dict, init=False, repr=False
    )

    def memo(self, build: Callable[[SourceFile], _T]) -> _T:
        """``build(self)``, computed once however many rules ask. Per-file indexes and facts live
        on the file, so they go when the runner drops it."""
        try:
            return self._memo[build]  # type: ignore[return-value]
        except KeyError:
            value = build(self)
            self._memo[build] = value
            return value

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ""


@dataclass(eq=False)
class Project:
    """Repository facts known before any file is parsed."""

    root: Path
    # every file found (relative paths, forward slashes), Python or not, outside skipped dirs
    all_paths: list[str] = field(default_factory=list)
    is_git: bool = False
    tracked: list[str] = field(default_factory=list)  # git-tracked paths (empty if not git)


class Rule(ABC):
    """A static check. ``ids`` lists every finding id it may report."""

    ids: ClassVar[tuple[str, ...]]

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        """Per-file findings; may also note small facts on ``self`` for ``finish``."""
        return ()

    def finish(self, project: Project) -> Iterable[Finding]:
        """Project-level findings, after every file was visited."""
        return ()


__all__ = ["TEST_DIRS", "Project", "Rule", "SourceFile", "is_test_path"]
