"""PostgreSQL for real: two workers on one study, one killed (SIGKILL) in the middle of a trial;
its trial is failed by heartbeat and run again, and the round completes."""

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
from dlpilot.tools.trials._control import study_status
from dlpilot.tools.trials._summary import study_summary

from .conftest import FAKE, PY

pytestmark = pytest.mark.slow

WAIT_S = 90.0


def _worker(round_: RoundFile, url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DLPILOT_TRIALS_HEARTBEAT_S": "1", "DLPILOT_TRIALS_HEARTBEAT_GRACE_S": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "dlpilot", "trials", "worker", str(round_.source), "--storage", url],
        cwd=round_.base_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def test_two_workers_share_a_study_and_a_killed_ones_trial_is_retried(
    write_round: Callable[..., RoundFile], postgres: str, tmp_path: Path
) -> None:
    command = f"{PY} {FAKE} --lr {{lr}} --steps 20 --sleep 0.1 --seed {{seed}} --out {{trial_dir}}"
    round_ = write_round(
        name="pg-two-workers", command=command, trials=4, parallel=1, baseline={"lr": 0.01}
    )
    a, b = _worker(round_, postgres), _worker(round_, postgres)
    try:
        end = time.monotonic() + WAIT_S
        victim: int | None = None
        while victim is None:
            assert time.monotonic() < end, "the workers never ran two trials at once"
            time.sleep(0.2)
            try:
                summary = study_summary("pg-two-workers", tmp_path)
            except Exception:  # the study is not created yet
                continue
            mine = [
                t
                for t in summary.trials
                if t.state == "running"
                and t.worker == f"{os.uname().nodename}:{b.pid}"
                and t.dir
                and (Path(t.dir) / "pid").exists()
            ]
            if mine:
                victim = mine[0].number
                trial_pid = int((Path(mine[0].dir or "") / "pid").read_text())
        os.kill(b.pid, signal.SIGKILL)
        out, _ = a.communicate(timeout=WAIT_S)
        assert a.returncode == 0, out.decode(errors="replace")
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    summary = study_summary("pg-two-workers", tmp_path)
    assert summary.storage.startswith("postgresql://postgres")
    complete = [t for t in summary.trials if t.state == "complete"]
    assert len(complete) == 4, [(t.number, t.state, t.exit_detail) for t in summary.trials]
    killed = next(t for t in summary.trials if t.number == victim)
    assert killed.state == "failed" and killed.exit_cause is None
    assert [c.params for c in complete].count(killed.params) == 1  # run again, once
    assert [t.kind for t in complete].count("baseline") == 1
    assert not _alive(trial_pid), "the killed worker's trial lived on"
    assert not study_status("pg-two-workers", tmp_path).active
