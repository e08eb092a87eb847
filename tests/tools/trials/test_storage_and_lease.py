"""Storage opening, study folders, and the leases that tell a dead runner from a live one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.trials._lease import Lease, kill_trial_processes, live_runners, owner_alive
from dlpilot.tools.trials._storage import find_study, open_storage, redact

HOLD = """
import sys, time
from pathlib import Path
from dlpilot.tools.trials._lease import Lease
Lease(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_storage_that_is_not_a_database_url_is_named_and_passwords_are_hidden(
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidArgument, match=r"'mystudy\.db' is not a database URL"):
        open_storage("mystudy.db", tmp_path)
    assert redact("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"
    open_storage("", tmp_path / "s")
    assert (tmp_path / "s" / "journal.log").parent.is_dir()


def test_an_unknown_study_lists_the_studies_there(tmp_path: Path) -> None:
    (tmp_path / ".dlpilot" / "trials" / "one").mkdir(parents=True)
    (tmp_path / ".dlpilot" / "trials" / "one" / "study.json").write_text("{}")
    with pytest.raises(InvalidArgument, match=r"no study named 'two'.*\(studies: one\)"):
        find_study("two", tmp_path)


def test_own_lease_is_alive_and_a_killed_holders_lease_is_dead(tmp_path: Path) -> None:
    with Lease(tmp_path) as mine:
        assert owner_alive(tmp_path, mine.worker)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            other = f"{os.uname().nodename}:{holder.pid}"
            assert owner_alive(tmp_path, other)
            assert {r["pid"] for r in live_runners(tmp_path)} == {os.getpid(), holder.pid}
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            assert not owner_alive(tmp_path, other)  # the lease file is left, its lock is not
        finally:
            if holder.poll() is None:
                holder.kill()
    assert not owner_alive(tmp_path, mine.worker)
    assert not owner_alive(tmp_path, "elsewhere:1")  # no lease at all


@pytest.mark.slow
def test_the_processes_of_a_trial_are_found_by_their_trial_dir_and_killed(tmp_path: Path) -> None:
    env = {**os.environ, "DLPILOT_TRIAL_DIR": str(tmp_path / "t1")}
    other = {**os.environ, "DLPILOT_TRIAL_DIR": str(tmp_path / "t10")}
    mine = subprocess.Popen(["sleep", "30"], env=env)
    kept = subprocess.Popen(["sleep", "30"], env=other)
    try:
        assert kill_trial_processes(tmp_path / "t1") == [mine.pid]
        assert mine.wait(5) == -signal.SIGKILL
        time.sleep(0.1)
        assert kept.poll() is None  # a trial dir that only starts alike is not touched
    finally:
        for p in (mine, kept):
            if p.poll() is None:
                p.kill()
                p.wait()
