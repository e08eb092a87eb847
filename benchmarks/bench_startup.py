"""From process start to a ``tools/list`` answer over stdio, beside ``import optuna``.

Speaks raw JSON-RPC over the server's pipes (initialize, initialized, tools/list), so nothing
but the server's own start-up is measured. Reports the median of a few runs and whether torch
was loaded.

    python benchmarks/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _send(proc: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


def _read_response(proc: subprocess.Popen[bytes], want_id: int) -> dict[str, object]:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("server closed its output before answering")
        msg = json.loads(line)
        if msg.get("id") == want_id:
            return dict(msg)


MINIMAL_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer(name="minimal")
@server.tool(name="echo", description="echo")
def echo(text: str) -> str:
    return text
server.run()
"""
"""The floor: the same SDK with one trivial tool, started the same way."""

DLPILOT = [sys.executable, "-m", "dlpilot", "serve"]


def time_to_tools_list(argv: list[str] = DLPILOT) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        _send(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "0"},
                },
            },
        )
        _read_response(proc, 1)
        _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = _read_response(proc, 2)["result"]["tools"]  # type: ignore[index]
        return time.perf_counter() - start, len(tools)
    finally:
        proc.kill()
        proc.wait()


def time_import(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def torch_loaded_by_server() -> bool:
    code = (
        "import sys, dlpilot.server; dlpilot.server.build_server(['.']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    minimal = [sys.executable, "-c", MINIMAL_SERVER]
    time_to_tools_list()  # warm the file cache and bytecode once
    time_to_tools_list(minimal)
    server, floor = [], []
    for _ in range(args.runs):  # interleaved, so that machine noise hits both alike
        server.append(time_to_tools_list())
        floor.append(time_to_tools_list(minimal)[0])
    optuna = [time_import("optuna") for _ in range(args.runs)]
    bare = [time_import("sys") for _ in range(args.runs)]
    s = statistics.median(t for t, _ in server)
    o = statistics.median(optuna)
    print(f"start -> tools/list over stdio: {s:.3f} s median of {args.runs} ({server[0][1]} tools)")
    print(f"same for a 1-tool MCPServer:    {statistics.median(floor):.3f} s (the SDK's floor)")
    print(f"python -c 'import optuna':      {o:.3f} s (reference)")
    print(f"bare python start:              {statistics.median(bare):.3f} s")
    print(f"ratio server / optuna import:   {s / o:.2f}")
    print(f"torch imported by the server:   {torch_loaded_by_server()}")


if __name__ == "__main__":
    main()
