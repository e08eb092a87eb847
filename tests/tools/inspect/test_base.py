from __future__ import annotations

import ast
from pathlib import Path

from dlpilot.tools.inspect._base import SourceFile


def _file(rel: str, text: str) -> SourceFile:
    return SourceFile(rel=rel, path=Path(rel), text=text, tree=ast.parse(text))


def test_a_file_builds_what_rules_derive_from_it_once_however_many_ask() -> None:
    calls: list[str] = []

    def lines(f: SourceFile) -> int:
        calls.append(f.rel)
        return f.text.count("\n")

    f = _file("a.py", "x = 1\ny = 2\n")
    assert f.memo(lines) == 2
    assert f.memo(lines) == 2
    assert calls == ["a.py"]


def test_each_file_keeps_its_own_derived_facts_and_each_builder_its_own_entry() -> None:
    def lines(f: SourceFile) -> int:
        return f.text.count("\n")

    def names(f: SourceFile) -> list[str]:
        return [n.id for n in ast.walk(f.tree) if isinstance(n, ast.Name)]

    a, b = _file("a.py", "x = 1\n"), _file("b.py", "y = 2\nz = 3\n")
    assert (a.memo(lines), b.memo(lines)) == (1, 2)
    assert (a.memo(names), b.memo(names)) == (["x"], ["y", "z"])


def test_a_builder_that_returns_none_is_not_run_again() -> None:
    calls: list[int] = []

    def nothing(f: SourceFile) -> None:
        calls.append(1)

    f = _file("a.py", "pass\n")
    assert f.memo(nothing) is None
    assert f.memo(nothing) is None
    assert calls == [1]
