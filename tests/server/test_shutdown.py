"""A real ``dlpilot serve`` over stdio, stopped while check_script runs: SIGTERM stops the probe,
its escaped grandchild and its temporary directory; after SIGKILL the probe dies with the server
and the next start cleans up what is left. Raw JSON-RPC, as a client sends it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ..sandbox.test_process import alive

pytestmark = pytest.mark.slow

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = """
import os, subprocess, time
sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
open("pids.tmp", "w").write(f"{os.getpid()} {sleeper.pid}")
os.rename("pids.tmp", "pids.txt")
while True:
    time.sleep(0.1)
"""


def _send(proc: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


def _serve(root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-m", "dlpilot", "serve", "--root", str(root)],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def _start_check(root: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    (root / "train.py").write_text(SCRIPT)
    server = _serve(root)
    _send(
        server,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
    )
    assert server.stdout is not None
    assert b'"id":1' in server.stdout.readline().replace(b" ", b"")
    _send(server, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    call = {"name": "check_script", "arguments": {"command": ["python", "train.py"]}}
    _send(server, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
    end = time.monotonic() + 60
    while not (root / "pids.txt").exists():
        assert time.monotonic() < end and server.poll() is None, "the script never started"
        time.sleep(0.05)
    probe, sleeper = (int(p) for p in (root / "pids.txt").read_text().split())
    return server, probe, sleeper


def _gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    return not alive(pid)


def _probe_dirs(server_pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"dlpilot-probe-{server_pid}-*"))


def test_sigterm_of_the_server_stops_the_probe_its_grandchild_and_its_temp_dir(tmp_path):
    server, probe, sleeper = _start_check(tmp_path)
    try:
        assert _probe_dirs(server.pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 128 + signal.SIGTERM
        assert _gone_within(probe, 3.0) and _gone_within(sleeper, 3.0)
        assert _probe_dirs(server.pid) == []
    finally:
        server.kill()
        for pid in (probe, sleeper):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_after_sigkill_of_the_server_the_probe_dies_and_the_next_start_cleans_up(tmp_path):
    server, probe, sleeper = _start_check(tmp_path)
    try:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        assert _gone_within(probe, 3.0)  # the parent-death signal
        assert _probe_dirs(server.pid)  # left behind until the next start
        after = _serve(tmp_path)
        try:
            assert _gone_within(sleeper, 10.0)
            end = time.monotonic() + 10
            while _probe_dirs(server.pid) and time.monotonic() < end:
                time.sleep(0.05)
            assert _probe_dirs(server.pid) == []
        finally:
            after.terminate()
            after.wait(10)
    finally:
        server.kill()
        for pid in (probe, sleeper):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_closing_stdin_while_a_check_runs_stops_the_probe_and_its_grandchild(tmp_path):
    server, probe, sleeper = _start_check(tmp_path)
    try:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(30)
        assert _gone_within(probe, 5.0) and _gone_within(sleeper, 5.0)
        assert _probe_dirs(server.pid) == []
    finally:
        server.kill()
        for pid in (probe, sleeper):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
