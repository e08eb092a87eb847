"""Run this package's rules over source strings, as the inspection engine would."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from dlpilot.findings import Finding
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect.code.training import RULES


def source(text: str, rel: str = "train.py") -> SourceFile:
    text = textwrap.dedent(text)
    return SourceFile(rel=rel, path=Path(rel), text=text, tree=ast.parse(text))


def run_files(files: dict[str, str], rules: list[type[Rule]] | None = None) -> list[Finding]:
    """Findings of the rules (all of this package's by default) over several files."""
    instances = [cls() for cls in (rules or RULES)]
    out: list[Finding] = []
    for rel, text in files.items():
        f = source(text, rel)
        for rule in instances:
            out.extend(rule.visit(f))
    project = Project(root=Path("."), all_paths=list(files))
    for rule in instances:
        out.extend(rule.finish(project))
    return out


def run(text: str, rules: list[type[Rule]] | None = None) -> list[Finding]:
    return run_files({"train.py": text}, rules)


def ids(text: str) -> list[str]:
    return sorted(f.id for f in run(text))


def lines_of(text: str, id_: str) -> list[int]:
    return sorted(f.evidence[0].line or 0 for f in run(text) if f.id == id_)
