"""Run the setup rules over in-memory projects (source strings, never executed)."""

from __future__ import annotations

import ast
import tempfile
import textwrap
from pathlib import Path

from dlpilot.findings import Finding
from dlpilot.tools.inspect._base import Project, SourceFile
from dlpilot.tools.inspect.code.setup import RULES


def run(files: dict[str, str]) -> list[Finding]:
    """Every setup rule over ``files`` (relative path -> source), visit then finish; the files
    are written to a temporary project first, since a rule may read one again at the end."""
    rules = [cls() for cls in RULES]
    out: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, src in files.items():
            text = textwrap.dedent(src)
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            f = SourceFile(rel=rel, path=path, text=text, tree=ast.parse(text))
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
