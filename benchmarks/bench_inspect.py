"""Static inspection speed: ``inspect_repo``'s rule runner over the installed torch package's
Python sources against a plain read + ``ast.parse`` of the same files, in the same run.

Target: inspect <= 2x parse. Prints both times, the ratio, peak memory (tracemalloc) of each, and
the seconds each rule spent, so a slow rule can be named. torch is located without importing it.

    .venv/bin/python benchmarks/bench_inspect.py [--limit N]
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib.util
import platform
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

from dlpilot.tools.inspect._run import _project, all_rules, run_rules
from dlpilot.tools.inspect._walk import discover


def torch_root() -> Path:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        sys.exit("torch is not installed in this environment")
    return Path(spec.origin).parent.resolve()


def plain_parse(root: Path, rels: list[str]) -> int:
    ok = 0
    for rel in rels:
        text = (root / rel).read_bytes().decode("utf-8", "replace")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(text)
            ok += 1
        except SyntaxError:
            pass
    return ok


def measure(fn: Callable[[], object]) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="only the first N Python files")
    ap.add_argument("--repeat", type=int, default=1, help="best of N timings (no tracemalloc)")
    args = ap.parse_args()
    root = torch_root()
    found = discover(root)
    rels = [p for p in found.paths if p.endswith(".py")]
    if args.limit:
        rels = rels[: args.limit]
    project = _project(root, found.paths)
    rules = all_rules()
    print(f"torch sources: {root} ({len(rels)} Python files)")
    print(f"python {platform.python_version()}, {platform.machine()}, {platform.system()}")

    def timed(fn: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    parse_t = timed(lambda: plain_parse(root, rels))
    timings: dict[str, float] = {}
    inspect_t = timed(lambda: run_rules(project, rels, rules, timings=timings))
    _, parse_peak = measure(lambda: plain_parse(root, rels))
    _, inspect_peak = measure(lambda: run_rules(project, rels, rules))
    print(f"parse:   {parse_t:7.2f} s   peak {parse_peak / 2**20:6.1f} MiB (tracemalloc)")
    print(f"inspect: {inspect_t:7.2f} s   peak {inspect_peak / 2**20:6.1f} MiB (tracemalloc)")
    print(f"ratio inspect/parse: {inspect_t / parse_t:.2f}x (target <= 2x)")
    print("seconds per rule (visit + finish), a pass (the mean over repeats):")
    for name, secs in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32s} {secs / args.repeat:7.3f}")


if __name__ == "__main__":
    main()
