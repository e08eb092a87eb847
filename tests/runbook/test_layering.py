"""The runbook is a pure state machine: it starts no processes and knows none of its drivers."""

from __future__ import annotations

import ast
from pathlib import Path

RUNBOOK = Path(__file__).resolve().parents[2] / "src" / "dlpilot" / "runbook"
BANNED = ("subprocess", "multiprocessing", "dlpilot.sandbox", "dlpilot.rounds", "dlpilot.agent",
          "dlpilot.server", "dlpilot.cli", "dlpilot.tools.checks", "os.system")  # fmt: skip


def test_the_runbook_imports_no_process_starter_and_no_driver():
    bad = []
    for path in sorted(RUNBOOK.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = [f"{node.value.id}.{node.attr}"]
            for name in names:
                if any(name == b or name.startswith(b + ".") for b in BANNED):
                    bad.append(f"{path.name}:{node.lineno} {name}")
    assert bad == []
