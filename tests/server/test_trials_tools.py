"""The trials tools through a real MCP client: start (returns at once), status, summary, stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from dlpilot.server import build_server

SCRIPT = Path(__file__).parents[1] / "tools" / "trials" / "scripts" / "fake_train.py"
ROUND = f"""
name = "mcp-round"
command = "{sys.executable} {SCRIPT} --lr {{lr}} --steps 8 --sleep 0.1 --out {{trial_dir}}"
metrics = "{{trial_dir}}/metrics.jsonl"
objective = {{ metric = "val/loss", direction = "minimize" }}
trials = 3
parallel = 2
sampler = "random"
pruner = {{ kind = "none" }}

[params.lr]
type = "float"
low = 0.0001
high = 1.0
log = true
"""


@pytest.mark.slow
async def test_a_round_started_over_mcp_returns_at_once_and_finishes_in_the_background(
    tmp_path: Path,
) -> None:
    (tmp_path / "round.toml").write_text(ROUND)
    async with Client(build_server([tmp_path])) as client:
        started_at = time.monotonic()
        started = await client.call_tool("start_trials", {"round_file": "round.toml"})
        assert not started.is_error, started.content
        assert time.monotonic() - started_at < 6.0  # the round itself takes longer
        assert started.structured_content["study"] == "mcp-round"
        for _ in range(300):
            status = await client.call_tool("trials_status", {"name": "mcp-round"})
            assert not status.is_error, status.content
            study = status.structured_content["studies"][0]
            if study["counts"].get("complete") == 3 and not study["active"]:
                break
            await anyio.sleep(0.2)
        assert study["counts"] == {"complete": 3}
        summary = await client.call_tool("trials_summary", {"name": "mcp-round"})
        data = summary.structured_content
        assert data["study"] == "mcp-round" and len(data["trials"]) == 3
        assert data["best"]["value"] == min(t["value"] for t in data["trials"])
        plot = await client.call_tool("trials_plot", {"name": "mcp-round", "plot": "progress"})
        assert not plot.is_error, plot.content
        images = [c for c in plot.content if c.type == "image"]
        assert images and images[0].mime_type == "image/png"
        assert "axes" in plot.structured_content["available"]
        stopped = await client.call_tool("stop_trials", {"name": "mcp-round"})
        assert not stopped.is_error and stopped.structured_content["signalled"] == []


async def test_an_unknown_study_and_a_round_outside_the_roots_are_tool_errors(
    tmp_path: Path,
) -> None:
    (tmp_path / "inside").mkdir()
    async with Client(build_server([tmp_path / "inside"])) as client:
        missing = await client.call_tool("trials_summary", {"name": "nope"})
        outside = await client.call_tool("start_trials", {"round_file": "../round.toml"})
        listed = await client.call_tool("trials_status", {})
    assert missing.is_error and "no study named 'nope'" in str(missing.content)
    assert outside.is_error and "round.toml" in str(outside.content)
    assert listed.structured_content == {"studies": []}
