"""The runner: real subprocess trials, their records, exit causes, budget, pruning."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dlpilot.tools.trials import RoundFile, RoundFileError
from dlpilot.tools.trials._runner import Progress, run_round
from dlpilot.tools.trials._summary import study_summary
from tests.helpers import TRAIN_MLP

from .conftest import PY, SCRIPTS, cpu_slots

pytestmark = pytest.mark.slow


def test_a_round_runs_its_trials_with_params_filled_in_and_records_them(
    write_round: Callable[..., RoundFile], tmp_path: Path
) -> None:
    round_ = write_round(baseline={"lr": 0.01}, trials=3, seed=7)
    seen: list[Progress] = []
    summary = run_round(round_, slots=cpu_slots(2), on_progress=seen.append)
    assert [t.state for t in summary.trials] == ["complete"] * 3
    baseline = summary.trials[0]
    assert baseline.kind == "baseline" and baseline.params == {"lr": 0.01}
    assert baseline.value == pytest.approx(1.0 / 5 + 7e-3)  # |log10(0.01) + 2| + 1/5 + seed
    assert baseline.seed == 7 and baseline.exit_cause == "completed"
    assert baseline.last_step == 5 and baseline.best_step == 5
    assert baseline.command[-1] == baseline.dir and "--lr" in baseline.command
    assert baseline.command[baseline.command.index("--lr") + 1] == "0.01"
    assert baseline.slot in ("cpu:0", "cpu:1") and baseline.worker
    assert baseline.started and baseline.ended and baseline.seconds is not None
    env = json.loads((Path(baseline.dir or "") / "env.json").read_text())
    assert json.loads(env["DLPILOT_TRIAL_PARAMS"]) == {"lr": 0.01}
    assert env["DLPILOT_TRIAL_DIR"] == baseline.dir
    assert env["OMP_NUM_THREADS"] == "1" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert Path(baseline.dir or "").is_relative_to(tmp_path / ".dlpilot" / "trials" / "fake")
    assert summary.best is not None
    assert summary.best.value == min(t.value for t in summary.trials if t.value is not None)
    assert summary.counts == {"complete": 3}
    assert seen and seen[-1].done == 3
    # the summary found again by name, from the study folder
    again = study_summary("fake", tmp_path)
    assert again.model_dump() == summary.model_dump()


def test_each_way_a_trial_ends_is_classified_and_takes_only_itself_down(
    write_round: Callable[..., RoundFile],
) -> None:
    modes = ["crash", "hang", "flood", "oom", "nonfinite", "ok"]
    command = f"{PY} {SCRIPTS / 'fake_train.py'} --lr {{lr}} --mode {{mode}} --out {{trial_dir}}"
    round_ = write_round(
        command=command,
        trials=len(modes),
        sampler="grid",
        trial_timeout_s=3.0,
        parallel=3,
        params={
            "lr": {"role": "fixed", "value": 0.01},
            "mode": {"role": "target", "type": "categorical", "choices": modes},
        },
    )
    import dlpilot.tools.trials._launch as launch

    launch_limit = launch.OUTPUT_LIMIT_BYTES
    summary = run_round(round_, slots=cpu_slots(3), memory_limit_bytes=512 << 20)
    by_mode = {t.params["mode"]: t for t in summary.trials}
    assert sorted(by_mode) == sorted(modes)
    assert by_mode["crash"].exit_cause == "crashed" and "code 3" in by_mode["crash"].exit_detail
    assert by_mode["hang"].exit_cause == "timeout"
    assert by_mode["oom"].exit_cause == "oom"
    assert by_mode["nonfinite"].exit_cause == "nonfinite"
    assert by_mode["flood"].exit_cause == "completed"  # a flood of output harms nothing
    assert len(by_mode["flood"].output_tail) <= 4000 < launch_limit
    assert by_mode["ok"].exit_cause == "completed" and by_mode["ok"].state == "complete"
    failed = {m for m, t in by_mode.items() if t.state == "failed"}
    assert failed == {"crash", "hang", "oom", "nonfinite"}


def test_a_metric_the_logs_never_contain_stops_the_round_naming_what_was_found(
    write_round: Callable[..., RoundFile],
) -> None:
    command = f"{PY} {SCRIPTS / 'fake_train.py'} --lr {{lr}} --mode wrongmetric --out {{trial_dir}}"
    round_ = write_round(command=command, trials=6, parallel=1)
    with pytest.raises(RoundFileError, match=r"'val/loss' was never found.*val/acc"):
        run_round(round_, slots=cpu_slots(1))
    summary = study_summary("fake", round_.work_dir)
    assert len(summary.trials) == 1  # nothing more was launched


def test_a_hopeless_trial_is_pruned_from_its_live_curve_and_stopped_at_once(
    write_round: Callable[..., RoundFile],
) -> None:
    command = (
        f"{PY} {SCRIPTS / 'fake_train.py'} --lr {{lr}} --steps 30 --sleep 0.1 --out {{trial_dir}}"
    )
    round_ = write_round(
        command=command,
        trials=3,
        parallel=1,
        sampler="grid",
        pruner={"kind": "median", "min_step": 3},
        params={
            "lr": {"role": "target", "type": "categorical", "choices": [10.0, 0.011, 0.01]}
        },  # run last first
    )
    import dlpilot.tools.trials._search as search

    search.MEDIAN_STARTUP_TRIALS = 1
    try:
        started = time.monotonic()
        summary = run_round(round_, slots=cpu_slots(1))
    finally:
        search.MEDIAN_STARTUP_TRIALS = 3
    bad = next(t for t in summary.trials if t.params["lr"] == 10.0)
    assert bad.state == "pruned" and bad.exit_cause == "pruned"
    assert bad.last_step is not None and bad.last_step < 30
    assert time.monotonic() - started < 3 * 30 * 0.1  # the pruned trial did not run out


def test_a_round_of_a_real_torch_training_tunes_its_learning_rate(
    write_round: Callable[..., RoundFile], tmp_path: Path
) -> None:
    script = TRAIN_MLP
    round_ = write_round(
        name="mlp",
        command=f"{PY} {script} --lr {{lr}} --width {{width}} --seed {{seed}} --out {{trial_dir}}",
        trials=4,
        parallel=2,
        sampler="qmc",
        pruner={"kind": "asha", "min_step": 2},
        baseline={"lr": 0.05, "width": 16},
        params={
            "lr": {"role": "target", "type": "float", "low": 1e-4, "high": 0.5, "log": True},
            "width": {"role": "nuisance", "type": "categorical", "choices": [8, 16]},
        },
    )
    summary = run_round(round_, slots=cpu_slots(2))
    finished = [t for t in summary.trials if t.state in ("complete", "pruned")]
    assert len(finished) == 4, [(t.state, t.exit_detail) for t in summary.trials]
    assert summary.trials[0].kind == "baseline" and summary.trials[0].state == "complete"
    assert summary.best is not None and summary.best.value < 1.0
    for t in summary.trials:
        rows = (Path(t.dir or "") / "metrics.jsonl").read_text().splitlines()
        assert json.loads(rows[0])["threads"] == "1"  # the CPU slot's thread limit reached torch
        if t.state == "complete":
            assert t.last_step == 6


def test_seed_reruns_repeat_the_best_configurations_and_the_baseline_with_other_seeds(
    write_round: Callable[..., RoundFile],
) -> None:
    round_ = write_round(
        trials=4, parallel=2, seed=10, baseline={"lr": 0.5}, seeds={"top": 1, "runs": 3}
    )
    summary = run_round(round_, slots=cpu_slots(2))
    search = [t for t in summary.trials if t.kind != "seed-rerun"]
    reruns = [t for t in summary.trials if t.kind == "seed-rerun"]
    assert len(search) == 4 and all(t.state == "complete" for t in summary.trials)
    best = min(search, key=lambda t: t.value or 0.0)
    baseline = search[0]
    # the best configuration and the baseline, each with seeds 11 and 12 (10 was the search's)
    assert sorted((t.params["lr"], t.seed) for t in reruns) == sorted(
        (p.params["lr"], s) for p in {best.number: best, 0: baseline}.values() for s in (11, 12)
    )
    for t in reruns:  # the seed reached the command; the fake's loss moves with it
        assert t.command[t.command.index("--seed") + 1] == str(t.seed)


def test_the_curves_of_each_trial_are_read_back_for_the_analysis(
    write_round: Callable[..., RoundFile],
) -> None:
    from dlpilot.tools.trials._summary import trial_curves

    round_ = write_round(trials=2, parallel=1)
    summary = run_round(round_, slots=cpu_slots(1))
    curves = trial_curves(round_, summary.trials)
    assert sorted(curves) == [t.number for t in summary.trials]
    for t in summary.trials:
        series = curves[t.number].series["val/loss"]
        assert series.steps.tolist() == [1, 2, 3, 4, 5]
        assert float(series.values.min()) == t.value
