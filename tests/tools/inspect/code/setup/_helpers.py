"""Run the setup rules over in-memory projects (source strings, never executed)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from dlpilot.findings import Finding
from dlpilot.tools.inspect._base import Project, SourceFile
from dlpilot.tools.inspect.code.setup import RULES


def run(files: dict[str, str]) -> list[Finding]:
    """Every setup rule over ``files`` (relative path -> source), visit then finish."""
    rules = [cls() for cls in RULES]
    root = Path("/project")
    out: list[Finding] = []
    for rel, src in files.items():
        text = textwrap.dedent(src)
        f = SourceFile(rel=rel, path=root / rel, text=text, tree=ast.parse(text))
        for rule in rules:
            out.extend(rule.visit(f))
    project = Project(root=root, all_paths=list(files))
    for rule in rules:
        out.extend(rule.finish(project))
    return out


def ids(files: dict[str, str]) -> list[str]:
    return sorted(f.id for f in run(files))


def hits(files: dict[str, str], id_: str) -> list[tuple[str | None, int | None]]:
    """(file, line) of each finding with ``id_``."""
    return sorted((f.evidence[0].file, f.evidence[0].line) for f in run(files) if f.id == id_)
