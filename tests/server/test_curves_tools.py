"""The curve tools through a real MCP client: read, diagnose, compare, plot."""

from __future__ import annotations

import base64
import json

import pytest
from mcp import Client

from dlpilot.server import build_server


def _write_run(path, losses, val_losses):
    path.mkdir(parents=True)
    with (path / "metrics.jsonl").open("w") as f:
        for step, loss in enumerate(losses, start=1):
            f.write(json.dumps({"step": step * 10, "train/loss": loss}) + "\n")
        for step, loss in enumerate(val_losses, start=1):
            f.write(json.dumps({"step": step * 50, "val/loss": loss}) + "\n")


@pytest.fixture
def runs_dir(tmp_path):
    falling = [2.0 * 0.97**i for i in range(100)]
    _write_run(tmp_path / "runs" / "good", falling, [2.0 * 0.85**i for i in range(20)])
    overfit_val = [2.0 * 0.8**i for i in range(10)] + [2.0 * 0.8**9 * 1.1**i for i in range(1, 11)]
    _write_run(tmp_path / "runs" / "overfit", falling, overfit_val)
    return tmp_path


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_read_curves_summarizes_every_run_and_downsamples_on_request(runs_dir, mode):
    async with Client(build_server([runs_dir]), mode=mode) as client:
        result = await client.call_tool("read_curves", {"path": "runs", "points": 10})
    assert not result.is_error, result.content
    data = result.structured_content
    assert sorted(r["run"] for r in data["runs"]) == ["good", "overfit"]
    for run in data["view"]["runs"]:
        for series in run["series"]:
            assert len(series["steps"]) <= 10


async def test_diagnose_curves_reports_overfitting_in_the_run_that_overfits(runs_dir):
    async with Client(build_server([runs_dir])) as client:
        result = await client.call_tool("diagnose_curves", {"path": "runs/overfit"})
        clean = await client.call_tool("diagnose_curves", {"path": "runs/good"})
    ids = {f["id"] for f in result.structured_content["findings"]}
    assert "curve.overfitting" in ids
    assert "curve.overfitting" not in {f["id"] for f in clean.structured_content["findings"]}


async def test_compare_runs_ranks_by_the_best_validation_loss(runs_dir):
    async with Client(build_server([runs_dir])) as client:
        result = await client.call_tool("compare_runs", {"path": "runs", "metric": "val/loss"})
    ranking = result.structured_content["ranking"]
    assert [r["run"] for r in ranking] == ["good", "overfit"]


async def test_plot_curves_returns_a_png_and_says_what_it_shows(runs_dir):
    async with Client(build_server([runs_dir])) as client:
        result = await client.call_tool("plot_curves", {"path": "runs/good"})
    assert not result.is_error, result.content
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.structured_content["panels"] == ["Loss"]


async def test_a_path_with_no_metrics_is_a_tool_error_naming_it(runs_dir):
    (runs_dir / "empty").mkdir()
    async with Client(build_server([runs_dir])) as client:
        result = await client.call_tool("diagnose_curves", {"path": "empty"})
    assert result.is_error
    assert "empty" in result.content[0].text


async def test_diagnose_curves_reads_as_the_cli_prints_it(runs_dir):
    from dlpilot.tools.curves import CurveDiagnosis, render_diagnosis

    async with Client(build_server([runs_dir])) as client:
        result = await client.call_tool("diagnose_curves", {"path": "runs/overfit"})
    diagnosis = CurveDiagnosis.model_validate(result.structured_content)
    assert result.content[0].text == render_diagnosis("runs/overfit", diagnosis)
    assert "[curve.overfitting]" in result.content[0].text
