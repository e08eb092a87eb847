"""The roots hold against links and modules, and every failure says why: a real MCP client
in process, as a hostile client would call the tools."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from mcp import Client

from dlpilot.server import build_server

SECRET = "outside-secret-0xC0FFEE"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A root and, next to it, a directory outside the roots holding a secret."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, "loss": 1.0 / (i + 1), SECRET: i}) + "\n" for i in range(5))
    )
    return root, outside


async def _call(root: Path, tool: str, args: dict[str, object]):
    async with Client(build_server([root])) as client:
        return await client.call_tool(tool, args)


def _text(result) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content) + json.dumps(
        result.structured_content or {}
    )


async def test_a_metrics_file_linked_from_inside_the_root_to_outside_is_not_read(layout):
    root, outside = layout
    runs = root / "runs" / "a"
    runs.mkdir(parents=True)
    (runs / "metrics.jsonl").symlink_to(outside / "metrics.jsonl")
    for tool in ("read_curves", "diagnose_curves", "compare_runs", "plot_curves"):
        result = await _call(root, tool, {"path": "runs"})
        assert SECRET not in _text(result), tool
        assert result.is_error, tool
        assert "outside the allowed roots" in _text(result), tool


async def test_a_checkpoint_directory_linked_outside_is_not_read(layout):
    root, outside = layout
    (outside / "checkpoint-9").mkdir()
    state = {"global_step": 9, "log_history": [{"step": 9, "loss": 0.5, "eval_" + SECRET: 1.0}]}
    (outside / "checkpoint-9" / "trainer_state.json").write_text(json.dumps(state))
    out = root / "hf_out"
    out.mkdir()
    (out / "checkpoint-9").symlink_to(outside / "checkpoint-9", target_is_directory=True)
    (out / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n')
    result = await _call(root, "read_curves", {"path": "hf_out"})
    assert SECRET not in _text(result)


async def test_a_link_to_a_file_inside_the_roots_is_still_read(layout):
    root, _ = layout
    (root / "real.jsonl").write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n')
    (root / "runs").mkdir()
    (root / "runs" / "metrics.jsonl").symlink_to(root / "real.jsonl")
    result = await _call(root, "read_curves", {"path": "runs"})
    assert not result.is_error, _text(result)
    assert result.structured_content["runs"][0]["metrics"]


async def test_propose_entry_table_does_not_write_through_a_link_out_of_the_roots(layout):
    root, outside = layout
    (root / "train.py").write_text("import torch\n")
    target = outside / "pyproject.toml"
    target.write_text('[project]\nname = "other"\n')
    (root / "pyproject.toml").symlink_to(target)
    result = await _call(root, "propose_entry_table", {"write": True})
    assert result.is_error and "outside the allowed roots" in _text(result)
    assert target.read_text() == '[project]\nname = "other"\n'


async def test_propose_entry_table_does_not_create_a_file_through_a_dangling_link(layout):
    root, outside = layout
    (root / "train.py").write_text("import torch\n")
    (root / "dlpilot.toml").symlink_to(outside / "created.toml")
    result = await _call(root, "propose_entry_table", {"write": True})
    assert result.is_error and "outside the allowed roots" in _text(result)
    assert not (outside / "created.toml").exists()


async def test_propose_entry_table_writes_atomically_inside_the_root(layout):
    root, _ = layout
    (root / "train.py").write_text("import torch\n")
    (root / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    result = await _call(root, "propose_entry_table", {"write": True})
    assert not result.is_error, _text(result)
    text = (root / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "mine"\n') and "[tool.dlpilot]" in text
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("value", ["yes", "true", 1, "1"])
async def test_a_boolean_that_causes_a_write_must_be_a_real_boolean(layout, value):
    root, _ = layout
    (root / "train.py").write_text("import torch\n")
    result = await _call(root, "propose_entry_table", {"write": value})
    assert result.is_error
    assert not (root / "dlpilot.toml").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["python", "-m", "base64", "/etc/passwd"],
        ["python", "-m", "timeit", "-s", "open('ran', 'w')", "pass"],
        ["python3.11", "-m", "json.tool", "/etc/passwd"],
    ],
)
async def test_a_module_outside_the_project_is_refused_before_anything_runs(layout, command):
    root, _ = layout
    result = await _call(root, "check_script", {"command": command, "overfit": False})
    assert result.is_error
    assert "not a file of the project" in _text(result)
    assert "root:x:0" not in _text(result)  # nothing of /etc/passwd
    assert not (root / "ran").exists()


async def test_an_interpreter_that_is_only_named_python_is_refused(layout):
    root, outside = layout
    fake = outside / "python"
    fake.write_text("#!/bin/sh\ntouch ran-by-fake\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (root / "train.py").write_text("pass\n")
    result = await _call(root, "check_script", {"command": [str(fake), "train.py"]})
    assert result.is_error and "is not allowed" in _text(result)
    assert not (root / "ran-by-fake").exists()


@pytest.mark.parametrize("python", ["python.exe", "PYTHON.EXE", "python3", "python3.12"])
async def test_every_spelling_of_python_still_checks_the_script_against_the_roots(layout, python):
    root, outside = layout
    (outside / "evil.py").write_text("open('ran', 'w')\n")
    command = [python, str(outside / "evil.py")]
    result = await _call(root, "check_script", {"command": command})
    assert result.is_error and "outside the allowed roots" in _text(result)


async def test_a_one_megabyte_path_is_a_tool_error_naming_it_shortened(layout):
    root, _ = layout
    for tool in ("read_curves", "inspect_repo"):
        result = await _call(root, tool, {"path": "a" * (1 << 20)})
        assert result.is_error
        text = _text(result)
        assert "aaaa" in text and "characters" in text and len(text) < 2000, tool


async def test_a_nul_byte_in_a_script_argument_is_a_tool_error_naming_it(layout):
    root, _ = layout
    (root / "train.py").write_text("pass\n")
    result = await _call(root, "check_script", {"command": ["python", "train.py", "--x=a\x00b"]})
    assert result.is_error
    assert "NUL" in _text(result) and "--x=a" in _text(result)


async def test_an_empty_event_file_and_a_header_only_csv_say_they_hold_no_data(layout):
    root, _ = layout
    (root / "tb").mkdir()
    (root / "tb" / "events.out.tfevents.1.host").write_bytes(b"")
    (root / "metrics.csv").write_text("step,loss\n")
    for path in ("tb", "metrics.csv"):
        result = await _call(root, "read_curves", {"path": path})
        assert "holds no data" in _text(result), path


@pytest.mark.slow
async def test_check_script_on_a_script_that_never_trains_is_an_error_saying_why(layout):
    root, _ = layout
    (root / "train.py").write_text("import sys\nprint('dataset missing')\nsys.exit(5)\n")
    result = await _call(root, "check_script", {"command": ["python", "train.py"]})
    assert result.is_error
    assert "NOT CHECKED" in result.content[0].text and "code 5" in result.content[0].text
    assert "dataset missing" in result.structured_content["error"]


def test_the_roots_are_exactly_the_ones_given_each_once(tmp_path):
    from dlpilot.server import Roots

    a = tmp_path / "a"
    a.mkdir()
    roots = Roots([a, str(a) + "/", tmp_path / "a" / ".." / "a"])
    assert roots.paths == (a.resolve(),)
    assert Path(os.getcwd()).resolve() not in roots.paths or Path(os.getcwd()).resolve() == a


@pytest.mark.parametrize("tool", ["check_entry_points", "lr_range_test", "find_batch_size"])
async def test_a_table_file_linked_out_of_the_roots_is_not_read(layout, tool):
    root, outside = layout
    (outside / "pyproject.toml").write_text(f'[tool.dlpilot]\nmodel = "{SECRET}:build"\n')
    (root / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    result = await _call(root, tool, {})
    assert result.is_error and "outside the allowed roots" in _text(result)
    assert SECRET not in _text(result)


@pytest.mark.slow
def test_serve_with_roots_given_serves_exactly_those_each_named_once(tmp_path):
    import subprocess
    import sys

    a, cwd = tmp_path / "a", tmp_path / "cwd"
    a.mkdir()
    cwd.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "dlpilot", "serve", "--root", str(a), "--root", f"{a}/."],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(ln for ln in out.stderr.splitlines() if ln.startswith("dlpilot: serving"))
    assert line == f"dlpilot: serving {a.resolve()}"


@pytest.mark.slow
async def test_overfit_test_on_a_script_that_never_trains_is_an_error_saying_why(layout):
    root, _ = layout
    (root / "train.py").write_text("import sys\nprint('dataset missing')\nsys.exit(5)\n")
    result = await _call(root, "overfit_test", {"command": ["python", "train.py"]})
    assert result.is_error
    assert "NOT CHECKED" in result.content[0].text and "code 5" in result.content[0].text
