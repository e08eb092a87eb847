"""check_script over MCP runs launchers and takes env / pass_env: real client, real children."""

from __future__ import annotations

import textwrap

import pytest
from mcp import Client

from dlpilot.server import build_server

pytestmark = pytest.mark.slow

READS_ENV = textwrap.dedent(
    """
    import os
    import torch
    from torch import nn
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    model = nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=float(os.environ["TRAIN_LR"]))
    for step in range(30):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()          # gradients are never cleared
        opt.step()
    """
)


async def test_check_script_runs_a_shell_script_with_the_variables_it_is_given(
    tmp_path, monkeypatch
):
    (tmp_path / "train.py").write_text(READS_ENV)
    (tmp_path / "run.sh").write_text("python train.py\n")
    monkeypatch.setenv("TRAIN_LR", "0.1")
    async with Client(build_server([tmp_path])) as client:
        given = await client.call_tool(
            "check_script",
            {"command": ["bash", "run.sh"], "overfit": False, "env": {"TRAIN_LR": "0.1"}},
        )
        dropped = await client.call_tool(
            "check_script", {"command": ["python", "train.py"], "overfit": False}
        )
        passed = await client.call_tool(
            "check_script",
            {"command": ["python", "train.py"], "overfit": False, "pass_env": ["TRAIN_LR"]},
        )
    assert not given.is_error, given.content
    assert given.structured_content["script"]["launcher"] == "bash"
    assert "loop.zero-grad-missing" in [f["id"] for f in given.structured_content["findings"]]
    script = dropped.structured_content["script"]  # the static pass found the bug: no error
    assert script["dropped_env"] == ["TRAIN_LR"]
    assert "--pass-env TRAIN_LR" in script["not_checked"]
    assert any("--pass-env TRAIN_LR" in n for n in dropped.structured_content["notes"])
    assert not passed.is_error, passed.content
