"""The runner against real child processes (marked slow; each test takes at most a few seconds)."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from dlpilot.errors import ChildStartError
from dlpilot.sandbox import ChildResult, ChildSpec, run_child
from dlpilot.sandbox._netguard import MARKER

pytestmark = pytest.mark.slow

PYTHON = sys.executable
MiB = 1024 * 1024


def spec(code: str, cwd: Path, **fields: object) -> ChildSpec:
    values: dict[str, object] = {"timeout_s": 20.0}
    values.update(fields)
    return ChildSpec([PYTHON, "-c", code], cwd=cwd, **values)  # type: ignore[arg-type]


def run(code: str, cwd: Path, **fields: object) -> ChildResult:
    return run_child(spec(code, cwd, **fields))


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie waiting for init to reap it counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for(path: Path, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


SPAWN_GRANDCHILDREN = """
import os, subprocess, sys
sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
procs = [subprocess.Popen(sleeper) for _ in range(2)]
procs.append(subprocess.Popen(sleeper, process_group=0))  # its own group, same session
with open("pids.tmp", "w") as fh:
    fh.write(" ".join(str(p.pid) for p in [*procs]) + " " + str(os.getpid()))
os.rename("pids.tmp", "pids.txt")
"""


def read_pids(cwd: Path) -> list[int]:
    return [int(p) for p in (cwd / "pids.txt").read_text().split()]


def test_a_child_that_exits_zero_is_ok_and_its_output_is_captured(tmp_path: Path) -> None:
    res = run("import sys; print('hello'); print('warn', file=sys.stderr)", tmp_path)
    assert res.cause == "ok"
    assert res.exit_code == 0
    assert res.signal is None
    assert res.stdout == "hello\n"
    assert res.stderr_tail == "warn"
    assert res.wall_s < 5


def test_sys_exit_with_a_code_is_cause_exit_with_that_code(tmp_path: Path) -> None:
    res = run("import sys; print('giving up', file=sys.stderr); sys.exit(3)", tmp_path)
    assert res.cause == "exit"
    assert res.exit_code == 3
    assert "code 3" in res.describe()
    assert "giving up" in res.describe()


def test_an_uncaught_exception_is_a_crash_that_quotes_the_last_error_line(tmp_path: Path) -> None:
    res = run("print('epoch 1')\nraise ValueError('labels out of range')", tmp_path)
    assert res.cause == "crash"
    assert res.exit_code == 1
    assert res.last_error_line() == "ValueError: labels out of range"
    assert "ValueError: labels out of range" in res.describe()


def test_a_child_killed_by_a_signal_not_ours_is_cause_signal(tmp_path: Path) -> None:
    res = run("import os; os.abort()", tmp_path)
    assert res.cause == "signal"
    assert res.signal == signal.SIGABRT
    assert res.exit_code is None
    assert "SIGABRT" in res.describe()


def test_a_sigkill_the_runner_did_not_send_is_read_as_the_oom_killer(tmp_path: Path) -> None:
    res = run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", tmp_path)
    assert res.cause == "oom"
    assert res.signal == signal.SIGKILL
    assert "OOM killer" in res.describe()


def test_a_cuda_out_of_memory_error_is_cause_oom(tmp_path: Path) -> None:
    code = (
        "class OutOfMemoryError(RuntimeError): pass\n"
        "raise OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')"
    )
    res = run(code, tmp_path)
    assert res.cause == "oom"
    assert "CUDA out of memory" in res.describe()


def test_timeout_kills_a_sleeping_child_and_all_its_grandchildren(tmp_path: Path) -> None:
    code = SPAWN_GRANDCHILDREN + "import time; time.sleep(60)\n"
    started = time.monotonic()
    res = run(code, tmp_path, timeout_s=1.5)
    assert time.monotonic() - started < 5
    assert res.cause == "timeout"
    assert res.killed_with == signal.SIGTERM
    assert res.signal == signal.SIGTERM
    pids = read_pids(tmp_path)
    assert len(pids) == 4
    assert [pid for pid in pids if alive(pid)] == []
    assert "1.5 s limit" in res.describe()


def test_grandchildren_left_behind_by_a_child_that_exits_are_stopped(tmp_path: Path) -> None:
    res = run(SPAWN_GRANDCHILDREN, tmp_path, timeout_s=10.0)
    assert res.cause == "ok"
    assert [pid for pid in read_pids(tmp_path) if alive(pid)] == []


def test_setting_cancel_stops_the_child_with_cause_cancelled(tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        res = run_child(spec("import time; time.sleep(30)", tmp_path), cancel=cancel)
    finally:
        timer.cancel()
    assert res.cause == "cancelled"
    assert res.wall_s < 3
    assert res.describe().startswith("cancelled")


def test_a_child_ignoring_sigterm_is_sigkilled_after_the_grace_period(tmp_path: Path) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    res = run(code, tmp_path, timeout_s=0.7, kill_grace_s=0.5)
    assert res.cause == "timeout"
    assert res.signal == signal.SIGKILL
    assert res.killed_with == signal.SIGKILL
    assert 1.1 <= res.wall_s < 4
    assert res.stdout_tail == "ready"
    assert "SIGKILL" in res.describe()


def test_on_tick_is_called_repeatedly_while_the_child_runs(tmp_path: Path) -> None:
    ticks: list[float] = []
    res = run_child(
        spec("import time; time.sleep(0.8)", tmp_path),
        on_tick=lambda: ticks.append(1.0),
        tick_s=0.1,
    )
    assert res.cause == "ok"
    assert len(ticks) >= 4


def test_an_exception_from_on_tick_stops_the_child_and_propagates(tmp_path: Path) -> None:
    code = "import os, time\nopen('pid.txt', 'w').write(str(os.getpid()))\ntime.sleep(30)\n"

    def tick() -> None:
        if (tmp_path / "pid.txt").exists():
            raise RuntimeError("progress sink closed")

    with pytest.raises(RuntimeError, match="progress sink closed"):
        run_child(spec(code, tmp_path), on_tick=tick, tick_s=0.05)
    assert not alive(int((tmp_path / "pid.txt").read_text()))


def test_the_memory_limit_makes_an_oversized_allocation_report_oom(tmp_path: Path) -> None:
    code = (
        "import resource\n"
        "print(resource.getrlimit(resource.RLIMIT_DATA)[0], flush=True)\n"
        "block = bytearray(1024 * 1024 * 1024)\n"
    )
    res = run(code, tmp_path, memory_limit_bytes=256 * MiB)
    assert res.cause == "oom", res.describe()
    assert res.stdout.strip() == str(256 * MiB)
    assert "MemoryError" in res.describe()


def test_without_a_memory_limit_the_child_keeps_the_parents_limit(tmp_path: Path) -> None:
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_DATA)[0])"
    res = run(code, tmp_path, memory_limit_bytes=None)
    assert res.stdout.strip() == str(resource.getrlimit(resource.RLIMIT_DATA)[0])


def test_signals_python_ignores_are_restored_for_the_command(tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc")
    child = ChildSpec(["cat", "/proc/self/status"], cwd=tmp_path, memory_limit_bytes=512 * MiB)
    res = run_child(child)
    ignored = next(line for line in res.stdout.splitlines() if line.startswith("SigIgn:"))
    mask = int(ignored.split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not mask & (1 << (sig - 1)), sig.name


def test_many_megabytes_of_output_stay_bounded_and_keep_the_tail(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "line = 'x' * 99 + '\\n'\n"
        "sys.stdout.write('START\\n')\n"
        "for _ in range(500_000): sys.stdout.write(line)\n"
        "sys.stdout.write('END\\n')\n"
    )
    tracemalloc.start()
    try:
        res = run(code, tmp_path, output_limit_bytes=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.cause == "ok"
    assert res.stdout_omitted > 49 * 1000 * 1000
    assert len(res.stdout) < 64 * 1024 + 200
    assert res.stdout.startswith("START\n")
    assert res.stdout_tail.endswith("END")
    assert peak < 4 * MiB


def test_the_environment_holds_allowed_and_extra_variables_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLPILOT_TEST_API_TOKEN", "s3cret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("DLPILOT_TEST_LISTED", "yes")
    code = (
        "import json, os\n"
        "keys = ['DLPILOT_TEST_API_TOKEN', 'LANG', 'DLPILOT_TEST_LISTED', 'SEED']\n"
        "print(json.dumps({k: os.environ.get(k) for k in keys}))\n"
    )
    res = run(code, tmp_path, env={"SEED": "7"})
    seen = json.loads(res.stdout)
    assert seen == {
        "DLPILOT_TEST_API_TOKEN": None,
        "LANG": "C.UTF-8",
        "DLPILOT_TEST_LISTED": None,
        "SEED": "7",
    }
    res = run(code, tmp_path, env_allow=["LANG", "DLPILOT_TEST_L*"])
    assert json.loads(res.stdout)["DLPILOT_TEST_LISTED"] == "yes"


def test_the_child_runs_in_the_given_working_directory(tmp_path: Path) -> None:
    res = run("import os; print(os.getcwd())", tmp_path)
    assert Path(res.stdout.strip()).resolve() == tmp_path.resolve()


def test_a_missing_executable_raises_child_start_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ChildStartError, match="no-such-program-dlpilot"):
        run_child(ChildSpec(["no-such-program-dlpilot", "x"], cwd=tmp_path))
    with pytest.raises(ChildStartError, match=r"missing\.py"):
        run_child(ChildSpec(["./missing.py"], cwd=tmp_path))


def test_a_missing_working_directory_raises_child_start_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ChildStartError, match="gone-dir"):
        run_child(ChildSpec([PYTHON, "-c", "pass"], cwd=tmp_path / "gone-dir"))


@pytest.mark.parametrize("memory_limit", [None, 512 * MiB])
def test_a_file_that_cannot_be_executed_raises_child_start_error(
    tmp_path: Path, memory_limit: int | None
) -> None:
    program = tmp_path / "not-a-program"
    program.write_bytes(b"\x7fELF\x00garbage")
    program.chmod(0o755)
    with pytest.raises(ChildStartError, match="not-a-program"):
        run_child(ChildSpec([str(program)], cwd=tmp_path, memory_limit_bytes=memory_limit))


GUARD_CHECK = (
    "import socket, sys\n"
    "if not getattr(socket, '_dlpilot_no_network', False):\n"
    "    print('NO GUARD'); sys.exit(9)\n"  # never try the address without the guard
)


def test_no_network_refuses_a_non_loopback_connect_before_sending(tmp_path: Path) -> None:
    code = GUARD_CHECK + (
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "s.settimeout(0.2)\n"
        "try:\n"
        "    s.connect(('10.255.255.1', 9))\n"
        "except PermissionError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "print('connect_ex', s.connect_ex(('10.255.255.1', 9)))\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n"
        "    u.sendto(b'x', ('10.255.255.1', 9))\n"
        "except PermissionError as exc:\n"
        "    print('udp', type(exc).__name__)\n"
    )
    res = run(code, tmp_path, no_network=True)
    assert res.cause == "ok", res.describe()
    lines = res.stdout.splitlines()
    assert lines[0].startswith("NetworkBlocked")
    assert MARKER in lines[0]
    assert lines[1] == "connect_ex 13"
    assert lines[2] == "udp NetworkBlocked"


def test_no_network_refuses_dns_lookups_of_other_hosts(tmp_path: Path) -> None:
    code = GUARD_CHECK + (
        "import urllib.request\nurllib.request.urlopen('http://example.invalid/', timeout=0.5)\n"
    )
    res = run(code, tmp_path, no_network=True)
    assert res.cause == "crash"
    assert res.network_blocked
    assert MARKER in res.describe()


def test_no_network_still_allows_loopback(tmp_path: Path) -> None:
    code = GUARD_CHECK + (
        "server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)\n"
        "port = server.getsockname()[1]\n"
        "client = socket.create_connection(('localhost', port), timeout=2)\n"
        "conn, _ = server.accept(); client.sendall(b'ping'); print(conn.recv(4).decode())\n"
    )
    res = run(code, tmp_path, no_network=True)
    assert res.cause == "ok", res.stderr
    assert res.stdout.strip() == "ping"


def test_no_network_reaches_grandchildren_and_keeps_a_users_sitecustomize(tmp_path: Path) -> None:
    user_site = tmp_path / "site"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE_RAN'] = '1'\n")
    code = (
        "import os, subprocess, sys\n"
        'probe = \'import os, socket; print(getattr(socket, "_dlpilot_no_network", False), '
        'os.environ.get("USER_SITE_RAN"))\'\n'
        "subprocess.run([sys.executable, '-c', probe], check=True)\n"
    )
    res = run(code, tmp_path, no_network=True, env={"PYTHONPATH": str(user_site)})
    assert res.cause == "ok", res.stderr
    assert res.stdout.strip() == "True 1"


def test_without_no_network_there_is_no_guard(tmp_path: Path) -> None:
    res = run("import socket; print(getattr(socket, '_dlpilot_no_network', False))", tmp_path)
    assert res.stdout.strip() == "False"


def test_a_child_importing_torch_runs_under_the_default_memory_limit(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code = "import torch\nx = torch.randn(256, 256)\nprint(bool(torch.isfinite(x @ x).all()))"
    res = run(code, tmp_path, timeout_s=60.0)
    assert res.cause == "ok", res.describe()
    assert res.stdout.strip() == "True"


def test_torch_allocating_past_the_memory_limit_reports_oom(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code = "import torch\nx = torch.empty(4 * 1024**3, dtype=torch.uint8)\nx.fill_(1)\n"
    res = run(code, tmp_path, timeout_s=60.0, memory_limit_bytes=1024 * MiB)
    assert res.cause == "oom", res.describe()
