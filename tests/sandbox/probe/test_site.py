"""The probe's sitecustomize: it keeps a project's own sitecustomize, stays out of processes that
never import torch, and probes those that do, one event file each with its rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dlpilot
from dlpilot.sandbox.probe import SITE_CONFIG_VAR, SITE_DIR, SITE_DIR_VAR


def _run(tmp_path, code, extra_path="", **env):
    paths = [SITE_DIR, str(Path(dlpilot.__file__).resolve().parents[1])]
    if extra_path:
        paths.append(extra_path)
    full = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(paths),
        SITE_DIR_VAR: str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=full, cwd=tmp_path, capture_output=True, text=True
    )


def test_a_projects_own_sitecustomize_still_runs_and_no_torch_means_no_events(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import builtins\nbuiltins.PROJECT_SITE = 'ran'\n")
    done = _run(tmp_path, "import builtins; print(builtins.PROJECT_SITE)", str(own))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ran"
    assert "not armed" not in done.stderr
    assert not list(tmp_path.glob("events-*.jsonl"))


@pytest.mark.slow
def test_a_process_that_imports_torch_writes_its_events_with_its_rank(tmp_path):
    code = (
        "import torch\n"
        "m = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "for _ in range(50):\n"
        "    opt.zero_grad(); m(torch.randn(4, 2)).sum().backward(); opt.step()\n"
        "print('never reached')\n"
    )
    done = _run(
        tmp_path,
        code,
        RANK="1",
        LOCAL_RANK="1",
        WORLD_SIZE="2",
        **{SITE_CONFIG_VAR: '{"max_steps": 5}'},
    )
    assert done.returncode == 0, done.stderr  # stopped by the bound, not a failure
    assert "never reached" not in done.stdout
    (events,) = tmp_path.glob("events-*.jsonl")
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines[0]["ev"] == "process" and lines[0]["rank"] == 1 and lines[0]["world_size"] == 2
    end = lines[-1]
    assert end["ev"] == "end" and end["reason"] == "steps" and end["steps"] == 5
