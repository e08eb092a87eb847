"""The runtime-check tools through a real MCP client: real child processes, real torch."""

from __future__ import annotations

import base64
import os
import textwrap
import time

import anyio
import pytest
from mcp import Client

from dlpilot.server import build_server

from ..conftest import EXAMPLE

pytestmark = pytest.mark.slow

BUGGY = textwrap.dedent(
    """
    import torch
    from torch import nn
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    y = torch.randint(0, 3, (64,))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(30):
        loss = loss_fn(model(x), y)
        loss.backward()          # gradients are never cleared
        opt.step()
    """
)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "train.py").write_text(BUGGY)
    return tmp_path


async def test_check_script_finds_the_missing_zero_grad_with_evidence(project):
    async with Client(build_server([project])) as client:
        result = await client.call_tool(
            "check_script", {"command": ["python", "train.py"], "overfit": False}
        )
    assert not result.is_error, result.content
    findings = result.structured_content["findings"]
    missing = [f for f in findings if f["id"] == "loop.zero-grad-missing"]
    assert missing, [f["id"] for f in findings]
    assert {e["how"] for e in missing[0]["evidence"]} >= {"runtime"}


async def test_a_script_outside_the_roots_is_refused_before_anything_runs(
    project, tmp_path_factory
):
    other = tmp_path_factory.mktemp("other")
    (other / "evil.py").write_text("open('ran', 'w').write('x')\n")
    async with Client(build_server([project])) as client:
        result = await client.call_tool(
            "check_script", {"command": ["python", str(other / "evil.py")]}
        )
    assert result.is_error
    assert "outside the allowed roots" in result.content[0].text
    assert not (project / "ran").exists() and not (other / "ran").exists()


async def test_cancelling_check_script_kills_the_training_process(project):
    (project / "forever.py").write_text(
        "import os, time\n"
        "open('pid', 'w').write(str(os.getpid()))\n"
        "while True:\n"
        "    time.sleep(0.1)\n"
    )
    async with Client(build_server([project])) as client:
        with anyio.move_on_after(8):
            await client.call_tool("check_script", {"command": ["python", "forever.py"]})
        for _ in range(100):
            if (project / "pid").exists():
                break
            await anyio.sleep(0.1)
    pid = int((project / "pid").read_text())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await anyio.sleep(0.2)
    pytest.fail(f"the training process {pid} is still alive after the call was cancelled")


async def test_the_example_passes_check_script_and_its_overfit_test_with_a_plot():
    async with Client(build_server([EXAMPLE])) as client:
        result = await client.call_tool(
            "check_script",
            {
                "command": ["python", "train.py", "--out", "/tmp/dlpilot-test-example"],
                "entry": False,
            },
        )
    assert not result.is_error, result.content
    data = result.structured_content
    assert [f for f in data["findings"] if f["severity"] in ("error", "warning")] == []
    assert data["script"]["overfit"]["verdict"] == "passed"
    images = [c for c in result.content if c.type == "image"]
    assert images and base64.b64decode(images[0].data)[:4] == b"\x89PNG"


async def test_check_entry_points_passes_the_example_and_draws_its_overfit_curve():
    async with Client(build_server([EXAMPLE])) as client:
        result = await client.call_tool("check_entry_points", {})
    assert not result.is_error, result.content
    overfit = result.structured_content["overfit"]
    assert overfit["verdict"] == "passed" and overfit["step_budget"] == 200, overfit["reason"]
    images = [c for c in result.content if c.type == "image"]
    assert images and base64.b64decode(images[0].data)[:4] == b"\x89PNG"


async def test_lr_range_test_suggests_a_rate_for_the_example_and_draws_it():
    async with Client(build_server([EXAMPLE])) as client:
        result = await client.call_tool("lr_range_test", {"steps": 60})
    assert not result.is_error, result.content
    suggestion = result.structured_content["suggestion"]
    assert suggestion is not None and 1e-5 < suggestion < 1
    assert any(c.type == "image" for c in result.content)


async def test_propose_entry_table_drafts_the_examples_factories():
    async with Client(build_server([EXAMPLE])) as client:
        result = await client.call_tool("propose_entry_table", {})
    assert 'model = "glyphs.model:build_model"' in result.structured_content["toml"]
    assert result.structured_content["written_to"] is None
