"""No child outlives its owner: descendants that leave the session, double forks, a killed owner,
leftovers of a dead owner. Real processes; each test takes a few seconds at most."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from dlpilot.sandbox import ChildSpec, clean_dead_owners, run_child

from .test_process import alive, wait_for

pytestmark = pytest.mark.slow

PYTHON = sys.executable

NEW_SESSION = """
import subprocess, time
p = subprocess.Popen(["sleep", "300"], start_new_session=True)
open("pids.txt", "w").write(str(p.pid))
"""

DOUBLE_FORK = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # the grandchild: its own session, orphaned at once, and (ENV) without our environment
        if ENV_CLEARED:
            os.execve("/bin/sleep", ["sleep", "300"], {})
        os.execv("/bin/sleep", ["sleep", "300"])
    os._exit(0)
"""


def _gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def _run(code: str, cwd: Path, **fields: object):
    values: dict[str, object] = {"timeout_s": 20.0, "kill_grace_s": 1.0}
    values.update(fields)
    return run_child(ChildSpec([PYTHON, "-c", code], cwd=cwd, **values))  # type: ignore[arg-type]


def _pgrep_sleepers(cwd: Path) -> list[int]:
    return [int(p) for p in (cwd / "pids.txt").read_text().split()]


def test_a_grandchild_in_its_own_session_is_stopped_when_the_child_exits(tmp_path: Path) -> None:
    result = _run(NEW_SESSION, tmp_path)
    assert result.cause == "ok"
    (pid,) = _pgrep_sleepers(tmp_path)
    assert _gone_within(pid, 1.0)


def test_a_grandchild_in_its_own_session_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    result = _run(NEW_SESSION + "time.sleep(60)\n", tmp_path, timeout_s=1.5)
    assert result.cause == "timeout"
    (pid,) = _pgrep_sleepers(tmp_path)
    assert _gone_within(pid, 1.0)


@pytest.mark.parametrize("env_cleared", [False, True])
def test_a_double_forked_daemon_is_stopped(tmp_path: Path, env_cleared: bool) -> None:
    code = (
        "ENV_CLEARED = " + repr(env_cleared) + "\n" + DOUBLE_FORK + "time.sleep(0.6)\n"
        # the sleeper was re-parented to the child (a subreaper): find it there
        "import subprocess\n"
        "out = subprocess.run(['ps', '-o', 'pid=,comm=', '--ppid', str(os.getpid())],"
        " capture_output=True, text=True).stdout.splitlines()\n"
        "pids = [ln.split()[0] for ln in out if ln.split()[1:] == ['sleep']]\n"
        "open('pids.txt', 'w').write(' '.join(pids))\n"
    )
    result = _run(code, tmp_path)
    assert result.cause == "ok", result.stderr
    sleepers = _pgrep_sleepers(tmp_path)
    assert sleepers, "the daemon was not re-parented to the child (no subreaper)"
    for pid in sleepers:
        assert _gone_within(pid, 1.0), pid


OWNER = """
import sys, threading, time
sys.path.insert(0, {src!r})
from pathlib import Path
from dlpilot.sandbox import ChildSpec, run_child
code = "import os, time; open('child.pid', 'w').write(str(os.getpid())); time.sleep(300)"
spec = ChildSpec([sys.executable, "-c", code], cwd=Path({cwd!r}), timeout_s=600)
thread = threading.Thread(target=run_child, args=(spec,))  # a worker thread, as the server does
thread.start()
thread.join()
"""


def test_a_child_dies_with_its_owner_killed_by_sigkill(tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    owner = subprocess.Popen([PYTHON, "-c", OWNER.format(src=src, cwd=str(tmp_path))])
    try:
        wait_for(tmp_path / "child.pid")
        time.sleep(0.2)
        child = int((tmp_path / "child.pid").read_text())
        assert alive(child)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        assert _gone_within(child, 3.0)
    finally:
        owner.kill()


def test_leftovers_of_a_dead_owner_are_cleaned_on_the_next_start(tmp_path: Path) -> None:
    # an owner that died: its pid is no longer running
    dead = subprocess.Popen([PYTHON, "-c", "pass"])
    dead.wait()
    leftover_dir = Path(tempfile.mkdtemp(prefix=f"dlpilot-probe-{dead.pid}-"))
    mine = Path(tempfile.mkdtemp(prefix=f"dlpilot-probe-{os.getpid()}-"))
    env = {**os.environ, "DLPILOT_SANDBOX_RUN": f"{dead.pid}-0123456789abcdef"}
    orphan = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        clean_dead_owners()
        assert not leftover_dir.exists()
        assert mine.exists()  # a live owner's directory is kept
        assert orphan.wait(5) == -signal.SIGKILL
        assert bystander.poll() is None
    finally:
        for p in (orphan, bystander):
            p.kill()
            p.wait()
        mine.rmdir()


def test_run_child_keeps_its_guarantees_from_worker_threads(tmp_path: Path) -> None:
    dirs = [tmp_path / str(i) for i in range(3)]
    for d in dirs:
        d.mkdir()
    threads = [threading.Thread(target=_run, args=(NEW_SESSION, d)) for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for d in dirs:
        (pid,) = _pgrep_sleepers(d)
        assert _gone_within(pid, 1.0)
