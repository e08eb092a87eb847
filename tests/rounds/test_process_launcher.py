"""The real launcher with real child processes: a tiny training script for the baseline, and a
stand-in for the trials runner's command line (``trials run`` / ``trials summary NAME --json``)."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from dlpilot.errors import ChildCrashed
from dlpilot.rounds import ProcessLauncher
from dlpilot.tools.trials import RoundFile

pytestmark = pytest.mark.slow

TRAIN = """
import argparse, json, pathlib
p = argparse.ArgumentParser()
p.add_argument("--out", type=pathlib.Path)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--fail", action="store_true")
args = p.parse_args()
if args.fail:
    raise SystemExit(3)
args.out.mkdir(parents=True, exist_ok=True)
with (args.out / "metrics.jsonl").open("w") as f:
    for step in range(1, 6):
        f.write(json.dumps({"step": step, "train/loss": 1 / step, "val/loss": 1.1 / step}) + "\\n")
"""

RUNNER = """
import json, pathlib, sys
log = pathlib.Path(sys.argv[0]).with_suffix(".log")
with log.open("a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["trials", "summary"]:
    print(json.dumps({"study": sys.argv[3], "direction": "minimize",
                      "best": {"number": 0, "value": 0.5, "params": {"lr": 0.01}}}))
"""


def test_the_baseline_runs_the_command_with_its_output_directory(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    run_dir = tmp_path / "rounds" / "1" / "baseline"
    seconds = ProcessLauncher(tmp_path).baseline(
        "python train.py --seed {seed} --out {trial_dir}", tmp_path, run_dir
    )
    assert seconds > 0
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 5


def test_a_failing_baseline_is_a_crash_with_its_exit_code(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    with pytest.raises(ChildCrashed, match="exited with 3") as err:
        ProcessLauncher(tmp_path).baseline(
            "python train.py --fail --out {trial_dir}", tmp_path, tmp_path / "b"
        )
    assert err.value.exit_code == 3


def test_the_trials_go_through_the_runners_command_line(tmp_path):
    runner = tmp_path / "fake_dlpilot.py"
    runner.write_text(textwrap.dedent(RUNNER))
    round_file = tmp_path / "round.toml"
    spec = RoundFile(
        name="r1", command="python train.py --lr {lr} --out {trial_dir}",
        metrics="{trial_dir}/metrics.jsonl", objective={"metric": "val/loss"},
        params={"lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
    )  # fmt: skip
    round_file.write_text(spec.to_toml())
    launcher = ProcessLauncher(tmp_path, dlpilot=[sys.executable, str(runner)])
    summary = launcher.run(round_file, None)
    assert summary.study == "r1" and summary.best is not None and summary.best.value == 0.5
    calls = runner.with_suffix(".log").read_text().splitlines()
    assert calls == [f"trials run {round_file}", "trials summary r1 --json"]
    assert json.loads(summary.model_dump_json())["direction"] == "minimize"
