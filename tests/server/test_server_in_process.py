"""The server through a real MCP client, in process, in both protocol modes."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer

from dlpilot.server import build_server
from dlpilot.server._adapt import run_tool

from ..conftest import EXAMPLE, REPO

MODES = ["auto", "legacy"]


@pytest.fixture
def server():
    return build_server([REPO])


@pytest.mark.parametrize("mode", MODES)
async def test_every_tool_has_a_schema_a_one_line_description_and_annotations(server, mode):
    async with Client(server, mode=mode) as client:
        tools = (await client.list_tools()).tools
    names = {t.name for t in tools}
    assert {"inspect_repo", "gap_report"} <= names
    for tool in tools:
        assert tool.output_schema is not None, tool.name
        assert tool.description and "\n" not in tool.description.strip(), tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, (
            tool.name
        )


@pytest.mark.parametrize("mode", MODES)
async def test_inspecting_the_example_returns_structured_findings(server, mode):
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("inspect_repo", {"path": str(EXAMPLE)})
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None and isinstance(data["findings"], list)
    assert data["files_scanned"] >= 3
    assert not [f for f in data["findings"] if f["severity"] == "error"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_path_outside_the_roots_is_a_tool_error_that_names_it(server, mode):
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("inspect_repo", {"path": "/etc"})
    assert result.is_error
    text = result.content[0].text
    assert "'/etc'" in text and "allowed roots" in text and "Traceback" not in text


async def test_a_missing_directory_is_a_tool_error_that_names_it(server):
    async with Client(server) as client:
        result = await client.call_tool("inspect_repo", {"path": "no/such/dir"})
    assert result.is_error
    assert "no/such/dir" in result.content[0].text


async def test_a_wrongly_typed_argument_is_a_tool_error_not_a_crash(server):
    async with Client(server) as client:
        result = await client.call_tool("inspect_repo", {"path": ["not", "a", "string"]})
        assert result.is_error
        again = await client.call_tool("inspect_repo", {"path": str(EXAMPLE)})
    assert not again.is_error


@pytest.mark.parametrize("mode", MODES)
async def test_the_last_inspection_is_a_resource_after_a_call(server, mode):
    async with Client(server, mode=mode) as client:
        before = await client.read_resource("dlpilot://inspection/last")
        assert "call the inspect_repo tool first" in before.contents[0].text
        await client.call_tool("inspect_repo", {"path": str(EXAMPLE)})
        after = await client.read_resource("dlpilot://inspection/last")
        gap = await client.read_resource("dlpilot://inspection/last/gap-report")
    assert "findings" in json.loads(after.contents[0].text)
    assert "### Reproducibility" in gap.contents[0].text


async def test_the_check_catalogue_resource_lists_every_id(server):
    from dlpilot.findings import CATALOGUE

    async with Client(server) as client:
        res = await client.read_resource("dlpilot://checks")
    ids = {row["id"] for row in json.loads(res.contents[0].text)}
    assert ids == set(CATALOGUE)


async def test_the_review_prompt_names_the_project_and_the_tools(server):
    async with Client(server) as client:
        prompt = await client.get_prompt("review_project", {"path": "examples/x"})
    text = prompt.messages[0].content.text
    assert "examples/x" in text and "inspect_repo" in text


async def test_the_gap_report_tool_follows_the_seed_template(server):
    async with Client(server) as client:
        result = await client.call_tool("gap_report", {"path": str(EXAMPLE)})
    md = result.structured_content["markdown"]
    for heading in (
        "### Environment",
        "### Reproducibility",
        "### Data",
        "### Training",
        "### Code Quality",
        "### Priority Fixes",
        "### Recommendations",
    ):
        assert heading in md


def _slow_server(seen_cancel: list[bool]) -> MCPServer:
    server = MCPServer(name="t")

    def slow(seconds: float, *, control) -> str:
        deadline = anyio.current_time if False else None  # noqa: F841 - plain thread code below
        import time

        start = time.monotonic()
        while time.monotonic() - start < seconds:
            if control.cancel.wait(0.05):
                seen_cancel.append(True)
                return "cancelled"
            control.progress(time.monotonic() - start, seconds, "working")
        return "done"

    @server.tool(name="slow", description="sleep")
    async def slow_tool(ctx: Context, seconds: float) -> str:
        return await run_tool(ctx, slow, seconds)

    return server


async def test_long_tools_send_progress_notifications_while_they_run():
    received: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress, total, message):
        received.append((progress, total, message))

    async with Client(_slow_server([])) as client:
        result = await client.call_tool("slow", {"seconds": 1.5}, progress_callback=on_progress)
    assert result.content[0].text == "done"
    assert len(received) >= 3
    assert all(m == "working" for _, _, m in received[1:])


async def test_cancelling_a_call_reaches_the_running_tool():
    seen: list[bool] = []
    async with Client(_slow_server(seen)) as client:
        with anyio.move_on_after(0.5):
            await client.call_tool("slow", {"seconds": 20})
        for _ in range(40):
            if seen:
                break
            await anyio.sleep(0.05)
    assert seen == [True]


async def test_the_latest_curve_diagnosis_is_a_resource(server, tmp_path):
    run = tmp_path / "metrics.jsonl"
    run.write_text("".join(f'{{"step": {i}, "train/loss": {2.0 / (i + 1)}}}\n' for i in range(30)))
    srv = build_server([tmp_path])
    async with Client(srv) as client:
        before = await client.read_resource("dlpilot://curves/last")
        await client.call_tool("diagnose_curves", {"path": "metrics.jsonl"})
        after = await client.read_resource("dlpilot://curves/last")
        check = await client.read_resource("dlpilot://check/last")
    assert "call the diagnose_curves tool first" in before.contents[0].text
    assert "verdict" in json.loads(after.contents[0].text)
    assert "call the check_script tool first" in check.contents[0].text
