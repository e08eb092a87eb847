"""A real third-party MCP client, the MCP Inspector's headless CLI, against ``dlpilot serve``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO

pytestmark = pytest.mark.slow


def _inspector() -> str | None:
    local = REPO / ".cache" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
    if local.exists():
        return str(local)
    return os.environ.get("DLPILOT_INSPECTOR") or shutil.which("mcp-inspector")


@pytest.fixture
def inspector() -> str:
    found = _inspector()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the MCP Inspector is not installed: scripts/setup installs it with npm")
        pytest.skip("the MCP Inspector is not installed (scripts/setup installs it with npm)")
    return found


def _run(inspector: str, *args: str) -> subprocess.CompletedProcess[str]:
    server = [sys.executable, "-m", "dlpilot", "serve"]
    return subprocess.run(
        [inspector, "--cli", *server, *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_the_inspector_lists_the_tools_with_their_output_schemas(inspector):
    out = _run(inspector, "--method", "tools/list")
    assert out.returncode == 0, out.stderr
    tools = {t["name"]: t for t in json.loads(out.stdout)["tools"]}
    assert "inspect_repo" in tools
    assert "outputSchema" in tools["inspect_repo"]


def test_the_inspector_calls_inspect_repo_on_the_example(inspector):
    out = _run(
        inspector,
        "--method",
        "tools/call",
        "--tool-name",
        "inspect_repo",
        "--tool-arg",
        "path=examples/glyph_classifier",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["isError"] is False
    assert isinstance(result["structuredContent"]["findings"], list)


def test_the_inspector_sees_a_refused_path_as_a_tool_error(inspector):
    out = _run(
        inspector,
        "--method",
        "tools/call",
        "--tool-name",
        "inspect_repo",
        "--tool-arg",
        f"path={Path('/').resolve()}",
    )
    assert out.returncode == 5  # the Inspector's exit status for a tool error
    assert "outside the allowed roots" in out.stdout + out.stderr
