"""Nothing lost: a runner killed with SIGKILL mid-round, then the same round run again; a round
stopped with `dlpilot trials stop`, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dlpilot.tools.trials import RoundFile
from dlpilot.tools.trials._control import start_detached, stop_study, study_status
from dlpilot.tools.trials._summary import study_summary

from .conftest import FAKE, PY

pytestmark = pytest.mark.slow

WAIT_S = 60.0


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpilot", "trials", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT_S * 2,
        check=False,
    )


def _wait(what: Callable[[], bool], message: str) -> None:
    end = time.monotonic() + WAIT_S
    while not what():
        assert time.monotonic() < end, message
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def _slow_round(write_round: Callable[..., RoundFile]) -> RoundFile:
    command = f"{PY} {FAKE} --lr {{lr}} --steps 30 --sleep 0.1 --seed {{seed}} --out {{trial_dir}}"
    return write_round(command=command, trials=4, parallel=2, baseline={"lr": 0.01})


def test_a_runner_killed_mid_round_loses_nothing_and_the_next_run_finishes_the_round(
    write_round: Callable[..., RoundFile], tmp_path: Path
) -> None:
    round_ = _slow_round(write_round)
    started = start_detached(round_.source or "")
    assert started.study == "fake" and Path(started.log).is_file()
    _wait(lambda: len(study_status("fake", tmp_path).running) == 2, "two trials never ran")
    status = study_status("fake", tmp_path)
    assert status.active and status.runners
    running = status.running
    folder = Path(started.folder)
    _wait(
        lambda: all((folder / "trials" / f"{n:05d}" / "pid").exists() for n in running),
        "the trials never started",
    )
    pids = [int((folder / "trials" / f"{n:05d}" / "pid").read_text()) for n in running]

    os.kill(started.pid, signal.SIGKILL)
    _wait(lambda: not _alive(started.pid), "the runner did not die")
    # its lease goes with it (released by the kernel as the process and its trials are torn down)
    _wait(lambda: not study_status("fake", tmp_path).active, "the dead runner's lease stayed")

    done = _cli("run", str(round_.source), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(_alive(p) for p in pids), "a killed runner's trial lived on"

    summary = study_summary("fake", tmp_path)
    complete = [t for t in summary.trials if t.state == "complete"]
    assert len(complete) == 4  # the asked number of finished trials
    interrupted = [t for t in summary.trials if t.number in running]
    assert all(t.state == "failed" and t.exit_cause is None for t in interrupted)
    assert all("interrupted" in t.exit_detail for t in interrupted)
    # each interrupted trial ran again, once, with its params; none ran twice
    for t in interrupted:
        again = [c for c in complete if c.params == t.params]
        assert len(again) == 1 and again[0].number > max(running)
    assert len({tuple(sorted(c.params.items())) for c in complete}) == 4
    assert [t.kind for t in complete].count("baseline") == 1


def test_a_stopped_round_is_continued_by_the_next_run(
    write_round: Callable[..., RoundFile], tmp_path: Path
) -> None:
    round_ = _slow_round(write_round)
    started = start_detached(round_.source or "")
    _wait(lambda: len(study_status("fake", tmp_path).running) >= 1, "no trial ran")
    stopped = stop_study("fake", tmp_path)
    assert stopped.signalled == [started.pid]
    _wait(lambda: not _alive(started.pid), "the runner did not stop")
    assert "stopped" in Path(started.log).read_text()
    done = _cli("run", str(round_.source), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = study_summary("fake", tmp_path)
    assert summary.counts.get("complete") == 4
    assert summary.counts.get("running", 0) == 0 and summary.counts.get("waiting", 0) == 0


def test_a_second_runner_on_the_journal_reruns_a_dead_runners_trials_without_a_restart(
    write_round: Callable[..., RoundFile], tmp_path: Path
) -> None:
    round_ = _slow_round(write_round)
    first = start_detached(round_.source or "")
    _wait(lambda: len(study_status("fake", tmp_path).running) == 2, "the first runner never ran")
    second = start_detached(round_.source or "")
    _wait(lambda: len(study_status("fake", tmp_path).runners) == 2, "the second never joined")
    victim = study_status("fake", tmp_path).running
    os.kill(first.pid, signal.SIGKILL)
    _wait(lambda: not _alive(second.pid), "the surviving runner never finished the round")
    summary = study_summary("fake", tmp_path)
    assert summary.counts.get("complete") == 4, summary.counts
    for number in victim:
        t = next(t for t in summary.trials if t.number == number)
        if t.state == "failed":  # interrupted: run again once by the survivor
            assert [c.params for c in summary.trials if c.state == "complete"].count(t.params) == 1
