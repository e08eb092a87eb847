"""The server as users run it: ``dlpilot serve`` over stdio and over streamable HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from mcp import Client, StdioServerParameters

from ..conftest import EXAMPLE, REPO

pytestmark = pytest.mark.slow


async def test_serve_over_stdio_lists_tools_and_inspects_the_example():
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "dlpilot", "serve", "--root", str(REPO)], cwd=str(REPO)
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("inspect_repo", {"path": str(EXAMPLE)})
    assert "inspect_repo" in names
    assert not result.is_error
    assert isinstance(result.structured_content["findings"], list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited early: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"server did not listen on {port} within {seconds}s")


async def test_serve_over_http_binds_loopback_and_answers_a_real_client():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlpilot", "serve", "--http", f"127.0.0.1:{port}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, proc)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("inspect_repo", {"path": "examples/glyph_classifier"})
        assert "inspect_repo" in names
        assert not result.is_error
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_bad_http_address_is_refused_with_the_value_named():
    out = subprocess.run(
        [sys.executable, "-m", "dlpilot", "serve", "--http", "localhost:notaport"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert out.returncode == 2
    assert "'localhost:notaport'" in out.stderr
