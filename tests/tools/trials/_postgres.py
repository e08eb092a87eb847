"""A throwaway PostgreSQL cluster on loopback for the tests (or $DLPILOT_TEST_POSTGRES_URL).

Under CI (``CI=true``) a server that cannot be started fails the test loudly; elsewhere the test
is skipped with the reason."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 60.0
"""initdb and the first start take a few seconds; a loaded CI machine may take longer."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI and could not be started: {reason}")
    pytest.skip(f"no PostgreSQL here: {reason}")


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    given = os.environ.get("DLPILOT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = _bin_dir()
    if bindir is None:
        _unavailable("initdb not found (apt-get install postgresql)")
        return
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="dlpilot-pg-")
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            _unavailable("running as root without runuser; initdb refuses root")
        as_user = [str(runuser), "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = Path(root) / "data", _free_port()

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_user, *argv], capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
        )

    try:
        init = run(
            str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        if init.returncode != 0:
            _unavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(Path(root) / "log"),
            "start",
        )
        if start.returncode != 0:
            _unavailable(f"pg_ctl start failed: {start.stdout.strip()[-500:]}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if data.exists():
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
