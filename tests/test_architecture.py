"""The import rules of the design, enforced: only ``server`` imports mcp; only the in-child
probe imports torch; ``sandbox`` knows only the standard library and ``dlpilot.errors``;
``runbook`` starts no processes; the server and the CLI use only the public facades of the other
packages, and start no threads of their own outside the one path of ``server/_adapt``; and the
server and CLI processes never load torch."""

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


def _imported_names(path: Path) -> list[tuple[str, int]]:
    """Every module an absolute import reaches, ``from a import b`` giving both ``a`` and
    ``a.b`` (``b`` may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
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


BOUNDARIES = {
    "server/": "dlpilot.server",
    "cli.py": "dlpilot._cli_trials",
    "_cli_trials.py": "dlpilot._cli_trials",
}
"""The modules at the edge of dlpilot, each with the private modules it owns."""


def test_the_server_and_the_cli_use_only_public_facades():
    bad = []
    for rel, path in _modules():
        own = next((v for k, v in BOUNDARIES.items() if rel.startswith(k)), None)
        if own is None:
            continue
        for name, line in _imported_names(path):
            parts = name.split(".")
            if parts[0] != "dlpilot" or name == own or name.startswith(own + "."):
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
                bad.append(f"{rel}:{line} imports {name}")
    assert bad == []


def test_the_public_facades_export_what_the_server_and_the_cli_import():
    import importlib

    missing = []
    for rel, path in _modules():
        if not any(rel.startswith(k) for k in BOUNDARIES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("dlpilot.tools")
            ):
                facade = importlib.import_module(node.module)
                for a in node.names:
                    if a.name not in getattr(facade, "__all__", ()):
                        missing.append(f"{rel}:{node.lineno} {node.module}.{a.name}")
    assert missing == []


def test_server_handlers_leave_the_event_loop_only_through_run_tool():
    bad = []
    for rel, path in _modules():
        if rel.startswith("server/") and rel != "server/_adapt.py":
            for name, line in _imported_names(path):
                if name in {"asyncio", "threading", "concurrent.futures"} or name.startswith(
                    ("anyio.to_thread", "asyncio.to_thread")
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
