"""The trial runner's costs: overhead per trial, slot busy share, PostgreSQL workers scaling.

1. Overhead: the same sleep-bound command run bare (``subprocess.run``) and as the trials of a
   round on one slot (launch through the sandbox, curve reading, pruning checks, journal storage);
   the difference per trial. Target: under 0.5 s.
2. Busy share: a round of sleep-bound trials on 4 slots; the share of slot time spent inside trials
   between the round's start and end. Target: at least 95%.
3. Scaling: the same round on one PostgreSQL study by 1 worker and by 4 workers (separate
   ``dlpilot trials worker`` processes, one slot each). Target: 4 workers at least 3.5x as fast.

    python benchmarks/bench_trials.py [--trials 16] [--sleep 1.0] [--scale-sleep 2.0]
                                      [--skip-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FAKE = REPO / "tests" / "tools" / "trials" / "scripts" / "fake_train.py"
STEPS = 5


def _round(folder: Path, name: str, trials: int, parallel: int, sleep: float) -> Path:
    from dlpilot.tools.trials._round import _to_toml

    step_sleep = sleep / STEPS
    data: dict[str, Any] = {
        "name": name,
        "command": f"{sys.executable} {FAKE} --lr {{lr}} --steps {STEPS} --sleep {step_sleep} "
        "--out {trial_dir}",
        "metrics": "{trial_dir}/metrics.jsonl",
        "objective": {"metric": "val/loss"},
        "trials": trials,
        "parallel": parallel,
        "sampler": "random",
        "pruner": {"kind": "median", "min_step": 1},
        # one value: every curve is the same, so the pruner is asked every tick but prunes none
        "params": {"lr": {"type": "categorical", "choices": [0.01]}},
    }
    path = folder / f"{name}.toml"
    path.write_text(_to_toml(data))
    return path


def _span(summary: Any) -> float:
    starts = [dt.datetime.fromisoformat(t.started) for t in summary.trials if t.started]
    ends = [dt.datetime.fromisoformat(t.ended) for t in summary.trials if t.ended]
    return (max(ends) - min(starts)).total_seconds()


def overhead(folder: Path, trials: int, sleep: float) -> None:
    from dlpilot.tools.trials import load_round
    from dlpilot.tools.trials._runner import run_round
    from dlpilot.tools.trials._slots import plan_slots

    out = folder / "bare"
    out.mkdir()
    argv = [sys.executable, str(FAKE), "--lr", "0.01", "--steps", str(STEPS)]
    argv += ["--sleep", str(sleep / STEPS), "--out", str(out)]
    start = time.perf_counter()
    for _ in range(trials):
        subprocess.run(argv, check=True)  # our own fixed command
    bare = (time.perf_counter() - start) / trials
    round_ = load_round(_round(folder, "overhead", trials, 1, sleep))
    start = time.perf_counter()
    summary = run_round(round_, slots=plan_slots(1, gpus=[], cores=1))
    total = time.perf_counter() - start
    assert summary.counts.get("complete") == trials, summary.counts
    per = total / trials
    print(
        f"overhead: bare {bare:.3f} s a trial, in a round {per:.3f} s a trial "
        f"(whole round incl. study creation {total:.2f} s for {trials}); "
        f"overhead {per - bare:.3f} s a trial (target < 0.5 s)"
    )


def busy_share(folder: Path, trials: int, sleep: float, slots: int = 4) -> None:
    from dlpilot.tools.trials import load_round
    from dlpilot.tools.trials._runner import run_round
    from dlpilot.tools.trials._slots import plan_slots

    round_ = load_round(_round(folder, "busy", trials, slots, sleep))
    start = time.perf_counter()
    summary = run_round(round_, slots=plan_slots(slots, gpus=[], cores=slots))
    wall = time.perf_counter() - start
    inside = sum(t.seconds or 0.0 for t in summary.trials)
    span = _span(summary)
    print(
        f"busy share: {slots} slots, {trials} trials of {sleep} s: "
        f"{inside / (slots * span):.1%} of the slot time between the first start and the last "
        f"end ({span:.2f} s), {inside / (slots * wall):.1%} of the whole call ({wall:.2f} s) "
        "(target >= 95%)"
    )


def scaling(folder: Path, trials: int, sleep: float) -> None:
    from dlpilot.tools.trials import load_round
    from dlpilot.tools.trials._summary import study_summary
    from tests.tools.trials._postgres import postgres_url

    with postgres_url() as url:
        results = {}
        for workers in (1, 4):
            name = f"scale-{workers}"
            path = _round(folder, name, trials, 1, sleep)
            argv = [
                sys.executable,
                "-m",
                "dlpilot",
                "trials",
                "worker",
                str(path),
                "--storage",
                url,
            ]
            start = time.perf_counter()
            procs = [
                subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL)
                for _ in range(workers)
            ]
            for p in procs:
                p.wait()
            wall = time.perf_counter() - start
            summary = study_summary(name, load_round(path).work_dir)
            assert summary.counts.get("complete") == trials, summary.counts
            results[workers] = (wall, _span(summary))
            print(
                f"postgres, {workers} worker(s): {trials} trials of {sleep} s in {wall:.2f} s "
                f"(processes started to all exited), {results[workers][1]:.2f} s first trial "
                "start to last end"
            )
        print(
            f"speed-up of 4 workers: {results[1][0] / results[4][0]:.2f}x by process wall, "
            f"{results[1][1] / results[4][1]:.2f}x by trial span (target >= 3.5x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--scale-sleep", type=float, default=2.0, help="trial length, part 3")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        overhead(folder, args.trials // 2, args.sleep)
        busy_share(folder, args.trials, args.sleep)
        if not args.skip_postgres:
            scaling(folder, args.trials * 2, args.scale_sleep)


if __name__ == "__main__":
    main()
