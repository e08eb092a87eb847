"""The import rules of the design, enforced: only ``server`` imports mcp; only the in-child
probe imports torch; ``sandbox`` knows only the standard library and ``dlpilot.errors``;
``runbook`` starts no processes; and the server and CLI processes never load torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dlpilot"
STDLIB = set(sys.stdlib_module_names)


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def _modules() -> list[tuple[str, Path]]:
    return [(p.relative_to(SRC).as_posix(), p) for p in sorted(SRC.rglob("*.py"))]


def _violations(allowed, banned_roots) -> list[str]:
    bad = []
    for rel, path in _modules():
        for name, line in _imports(path):
            root = name.split(".")[0]
            if root in banned_roots and not allowed(rel, name):
                bad.append(f"{rel}:{line} imports {name}")
    return bad


def test_only_the_server_package_imports_mcp():
    assert _violations(lambda rel, _: rel.startswith("server/"), {"mcp"}) == []


def test_only_the_in_child_probe_imports_torch():
    assert _violations(lambda rel, _: rel.startswith("sandbox/probe/"), {"torch"}) == []


def test_the_sandbox_runner_imports_only_the_standard_library_and_errors():
    bad = []
    for rel, path in _modules():
        if not rel.startswith("sandbox/") or rel.startswith("sandbox/probe/"):
            continue
        for name, line in _imports(path):
            if (
                name.split(".")[0] in STDLIB
                or name == "dlpilot.errors"
                or name.startswith("dlpilot.sandbox")
            ):
                continue
            bad.append(f"{rel}:{line} imports {name}")
    assert bad == []


def test_tools_never_import_the_server_or_cli():
    bad = []
    for rel, path in _modules():
        if rel.startswith(("tools/", "sandbox/", "runbook/")):
            for name, line in _imports(path):
                if name.startswith(("dlpilot.server", "dlpilot.cli")):
                    bad.append(f"{rel}:{line} imports {name}")
    assert bad == []


def test_the_runbook_starts_no_processes():
    bad = []
    for rel, path in _modules():
        if rel.startswith("runbook/"):
            for name, line in _imports(path):
                if name.split(".")[0] in {"subprocess", "multiprocessing"} or name.startswith(
                    "dlpilot.sandbox"
                ):
                    bad.append(f"{rel}:{line} imports {name}")
    assert bad == []


@pytest.mark.slow
def test_the_server_and_cli_processes_never_load_torch():
    code = (
        "import sys, dlpilot.cli, dlpilot.server\n"
        "dlpilot.server.build_server(['.'])\n"
        "heavy = ('torch', 'optuna', 'matplotlib', 'tensorboard', 'git')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
