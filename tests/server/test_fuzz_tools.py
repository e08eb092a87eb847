"""Every MCP tool against hostile arguments (missing, mistyped, oversized, NUL, unicode; links in
and out of the roots): always a clean tool error that says why, or a correct answer, and never
data from outside the roots. In process, through a real MCP client; bounded to seconds (no
argument here gets as far as running user code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dlpilot.server import build_server

SECRET = "fuzz-outside-secret-77"
BIG = "x" * (1 << 20)

pytestmark = pytest.mark.slow  # a few hundred calls: about half a minute on a shared CPU


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    secret_rows = "".join(
        json.dumps({"step": i, "loss": 1.0 / (i + 1), SECRET: i}) + "\n" for i in range(4)
    )
    (outside / "metrics.jsonl").write_text(secret_rows)
    (outside / "train.py").write_text(f"print({SECRET!r})\n")
    (outside / "pyproject.toml").write_text(f'[project]\nname = "{SECRET}"\n')
    (root / "link_out.jsonl").symlink_to(outside / "metrics.jsonl")
    (root / "dir_out").symlink_to(outside, target_is_directory=True)
    (root / "runs").mkdir()
    (root / "runs" / "metrics.jsonl").write_text(
        '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n'
    )
    (root / "link_in.jsonl").symlink_to(root / "runs" / "metrics.jsonl")
    (root / "loop").symlink_to(root / "loop")
    return root, outside


def _values(root: Path, outside: Path) -> list[Any]:
    return [
        None,
        -1,
        "yes",
        [],
        {"a": 1},
        "",
        BIG,
        "a\x00b",
        "ünï\u202ecødé/☃.jsonl",
        "../outside/metrics.jsonl",
        str(outside),
        str(outside / "metrics.jsonl"),
        "link_out.jsonl",
        "dir_out",
        "dir_out/metrics.jsonl",
        "link_in.jsonl",
        "loop",
        "runs",
        ["python", str(outside / "train.py")],
        ["python", "dir_out/train.py"],
        ["python", "-m", "base64", str(outside / "pyproject.toml")],
        ["python", "a\x00b"],
        ["python", BIG],
        ["python"],
        ["/bin/sh", "-c", "echo hi"],
    ]


PLACES = {"path", "project", "cwd", "command"}
"""Parameters that name files or commands get every value; the others the mistyped ones."""

OTHER_VALUES: list[Any] = [None, -1, 1e308, "yes", [], {"a": 1}, BIG, "a\x00b", "ünï☃"]


def _text(result: Any) -> str:
    parts = [getattr(c, "text", "") for c in result.content]
    return " ".join(parts) + json.dumps(result.structured_content or {})


async def test_every_tool_answers_hostile_arguments_cleanly_and_never_leaks(roots) -> None:
    root, outside = roots
    calls = 0
    async with Client(build_server([root])) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) >= 12
        for tool in tools:
            props = tool.input_schema.get("properties", {})
            required = tool.input_schema.get("required", [])
            cases: list[dict[str, Any]] = [{}]  # everything missing
            for name in props:
                values = _values(root, outside) if name in PLACES else OTHER_VALUES
                for value in values:
                    args = {r: "runs" for r in required if r != name}
                    if "command" in required and name != "command":
                        args["command"] = ["python", "-m", "nothing_here"]
                    args[name] = value
                    cases.append(args)
            for args in cases:
                result = await client.call_tool(tool.name, args)
                calls += 1
                text = _text(result)
                assert SECRET not in text, (tool.name, args)
                if result.is_error:
                    message = result.content[0].text if result.content else ""
                    assert message.strip() not in ("", f"Error executing tool {tool.name}"), (
                        tool.name,
                        str(args)[:200],
                    )
                    assert len(message) < 5000, (tool.name, str(args)[:200])
    assert calls > 200
