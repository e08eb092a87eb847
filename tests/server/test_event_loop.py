"""No tool work on the server's event loop: while one tool's work runs (held at a step the test
controls), a second request through the same real MCP client is answered first."""

from __future__ import annotations

import json
import threading

import anyio
import anyio.to_thread
import pytest
from mcp import Client

import dlpilot.tools.curves as curves
from dlpilot.server import build_server

HOLD_S = 20.0
"""Longest the held step waits to be released: a bound so that a server that runs the step on its
event loop (which then cannot answer the second request) fails the test instead of hanging it."""


def _write_run(path, n):
    path.mkdir(parents=True)
    with (path / "metrics.jsonl").open("w") as f:
        for step in range(1, n + 1):
            f.write(json.dumps({"step": step, "train/loss": 2.0 * 0.99**step}) + "\n")
            if step % 10 == 0:
                f.write(json.dumps({"step": step, "val/loss": 2.1 * 0.99**step}) + "\n")


@pytest.fixture
def runs_dir(tmp_path):
    _write_run(tmp_path / "runs" / "a", 400)
    _write_run(tmp_path / "runs" / "b", 300)
    return tmp_path


@pytest.mark.parametrize(
    ("tool", "step"),
    [
        ("diagnose_curves", "diagnose_runs"),
        ("compare_runs", "compare_runs"),
        ("plot_curves", "render_png"),
    ],
)
async def test_a_second_request_is_answered_while_a_long_curve_tool_runs(
    runs_dir, monkeypatch, tool, step
):
    real = getattr(curves, step)  # loads the lazy attribute, so that it can be replaced
    started, release = threading.Event(), threading.Event()

    def held(*args, **kwargs):
        started.set()
        release.wait(HOLD_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(curves, step, held)
    finished: list[str] = []
    results = {}
    async with Client(build_server([runs_dir])) as client:

        async def long_call() -> None:
            results[tool] = await client.call_tool(tool, {"path": "runs"})
            finished.append(tool)

        async with anyio.create_task_group() as tg:
            tg.start_soon(long_call)
            assert await anyio.to_thread.run_sync(started.wait, HOLD_S)
            results["read_curves"] = await client.call_tool("read_curves", {"path": "runs"})
            finished.append("read_curves")
            release.set()
    assert finished == ["read_curves", tool]
    assert not results["read_curves"].is_error and not results[tool].is_error
    assert sorted(r["run"] for r in results["read_curves"].structured_content["runs"]) == ["a", "b"]


async def test_a_second_request_is_answered_while_a_resource_renders(runs_dir, monkeypatch):
    import dlpilot.tools.inspect as inspect_tools

    real = inspect_tools.gap_report_markdown
    started, release = threading.Event(), threading.Event()

    def held(*args, **kwargs):
        started.set()
        release.wait(HOLD_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(inspect_tools, "gap_report_markdown", held)
    finished: list[str] = []
    async with Client(build_server([runs_dir])) as client:
        assert not (await client.call_tool("inspect_repo", {"path": "."})).is_error

        async def long_read() -> None:
            await client.read_resource("dlpilot://inspection/last/gap-report")
            finished.append("gap-report")

        async with anyio.create_task_group() as tg:
            tg.start_soon(long_read)
            assert await anyio.to_thread.run_sync(started.wait, HOLD_S)
            assert not (await client.call_tool("read_curves", {"path": "runs"})).is_error
            finished.append("read_curves")
            release.set()
    assert finished == ["read_curves", "gap-report"]
