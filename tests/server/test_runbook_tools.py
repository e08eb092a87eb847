"""The runbook through a real MCP client: tools generated from the ops registry, the state
resource, the round prompt."""

from __future__ import annotations

import json
import shutil

import pytest
from mcp import Client

from dlpilot.runbook import OPS
from dlpilot.server import build_server
from tests.conftest import EXAMPLE


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "glyph"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("runs", ".dlpilot"))
    return root


async def test_every_runbook_operation_is_a_tool_with_the_registrys_schema(project):
    async with Client(build_server([project])) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for op in OPS:
        tool = tools[op.name]
        assert tool.description == op.description
        props = tool.input_schema["properties"]
        assert set(props) == {"project", *op.input.model_fields}
        assert tool.annotations.read_only_hint is op.read_only
    assert tools["runbook_answer"].input_schema["required"] == ["step"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_agent_reads_the_question_proposes_answers_and_revises(project, mode):
    async with Client(build_server([project]), mode=mode) as client:
        status = await client.call_tool("runbook_status", {})
        assert not status.is_error, status.content
        assert status.structured_content["step"] == 1
        assert "task" in status.structured_content["question"]
        proposal = await client.call_tool("runbook_propose", {})
        assert proposal.structured_content["answer"]["task_type"] == "classification"
        assert "001" in proposal.structured_content["why"]
        done = await client.call_tool("runbook_answer", {"step": 1, "accept_proposal": True})
        assert done.structured_content["next_step"] == 2
        bad = await client.call_tool(
            "runbook_answer", {"step": 2, "answer": {"metric": "val/acc", "direction": "up"}}
        )
        assert bad.is_error
        text = bad.content[0].text
        assert "step 2 (metric)" in text and "'direction'" in text and "'splits'" in text
        again = await client.call_tool("runbook_answer", {"step": 2, "accept_proposal": True})
        assert not again.is_error
        revised = await client.call_tool("runbook_revise", {"step": 1})
        assert revised.structured_content["reopened"] == [1, 2]
        resource = await client.read_resource("dlpilot://runbook/state")
        state = json.loads(resource.contents[0].text)
        assert state["schema"] == "dlpilot.runbook.state"
        assert [e["kind"] for e in state["history"]].count("revise") == 1


async def test_evidence_is_recorded_and_a_project_outside_the_roots_is_refused(project, tmp_path):
    async with Client(build_server([project])) as client:
        added = await client.call_tool(
            "runbook_add_evidence",
            {"kind": "lr-range", "source": "lr_range_test", "data": {"suggestion": 0.01}},
        )
        assert added.structured_content["id"] == "e1"
        outside = await client.call_tool("runbook_status", {"project": str(tmp_path)})
        assert outside.is_error
        history = await client.call_tool("runbook_history", {})
        assert history.structured_content["evidence"][0]["source"] == "lr_range_test"


async def test_the_round_prompt_walks_through_the_runbook_tools(project):
    async with Client(build_server([project])) as client:
        prompt = await client.get_prompt("optimize_round", {"path": "."})
    text = prompt.messages[0].content.text
    for name in ("runbook_status", "runbook_propose", "runbook_answer", "runbook_revise"):
        assert name in text
