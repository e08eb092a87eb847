"""Speed and peak memory of the curve readers against tensorboard's EventAccumulator.

    .venv/bin/python benchmarks/bench_curves_read.py [--scalars 1000000] [--rows 1000000]
                                                     [--dir /tmp/dlpilot-bench-curves]

Writes (once; reused when present) a TensorBoard log of ``--scalars`` scalars with torch's real
``SummaryWriter`` (4 tags), a JSONL log and a Lightning-style sparse CSV of ``--rows`` rows each.
Then, each in a fresh child process (so peak RSS is its own): dlpilot's reader (checksums on) and
``EventAccumulator(size_guidance={"scalars": 0})`` (keep every point) on the same event file, and
dlpilot's JSONL and CSV readers. Prints the load average before and after, and a Markdown table;
figures are from one run, as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
if kind == "accumulator":
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
else:
    from dlpilot.tools.curves.readers import read_run
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if kind == "accumulator":
    acc = EventAccumulator(path, size_guidance={"scalars": 0})
    acc.Reload()
    points = sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
else:
    run = read_run(path, format=kind)
    points = sum(len(s) for s in run.series.values())
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "points": points, "peak_mib": peak / 1024,
                  "base_mib": base / 1024}))
"""


def _write_tensorboard(d: Path, scalars: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    tags = ["Loss/train", "Loss/val", "learning_rate", "Accuracy/train"]
    with SummaryWriter(str(d), max_queue=10_000, flush_secs=3600) as w:
        for step in range(scalars // len(tags)):
            for k, tag in enumerate(tags):
                w.add_scalar(tag, 1.0 / (step + 1) + k, step)


def _write_jsonl(path: Path, rows: int) -> None:
    with path.open("w") as f:
        for step in range(rows):
            row = {"step": step, "train_loss": 1.0 / (step + 1), "lr": 1e-3}
            if step % 10 == 0:
                row["val_loss"] = 2.0 / (step + 1)
            f.write(json.dumps(row) + "\n")


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write("epoch,step,train_loss_step,val_acc,val_loss\n")
        for step in range(rows):
            f.write(f"{step // 1000},{step},{1.0 / (step + 1)},,\n")
            if step % 1000 == 999:
                f.write(f"{step // 1000},{step},,{0.5 + step / 1e7},{2.0 / (step + 1)}\n")


def _measure(kind: str, path: Path) -> dict[str, float]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalars", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dlpilot-bench-curves"))
    args = parser.parse_args()
    root: Path = args.dir
    tb = root / f"tb-{args.scalars}"
    jsonl = root / f"rows-{args.rows}.jsonl"
    csv = root / f"rows-{args.rows}.csv"
    root.mkdir(parents=True, exist_ok=True)
    for path, write, n in [
        (tb, _write_tensorboard, args.scalars),
        (jsonl, _write_jsonl, args.rows),
        (csv, _write_csv, args.rows),
    ]:
        if not path.exists():
            t = time.perf_counter()
            if path == tb:
                path.mkdir()
            write(path, n)
            print(f"wrote {path} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    (event_file,) = tb.glob("events.out.tfevents.*")
    size_mib = event_file.stat().st_size / 2**20

    load_before = os.getloadavg()
    ours = _measure("tensorboard", tb)
    theirs = _measure("accumulator", tb)
    if ours["points"] != theirs["points"]:
        raise SystemExit(
            f"point counts differ: dlpilot {ours['points']}, tensorboard {theirs['points']}"
        )
    j = _measure("jsonl", jsonl)
    c = _measure("csv", csv)

    load_after = os.getloadavg()
    cpu = platform.processor() or platform.machine()
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {cpu}")
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print(f"TensorBoard event file: {int(ours['points']):,} scalars, {size_mib:.1f} MiB\n")
    print("| read | points | seconds | peak RSS, MiB (after imports) | growth, bytes a point |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        ("dlpilot, TensorBoard (CRC checked)", ours),
        ("tensorboard EventAccumulator, all scalars", theirs),
        (f"dlpilot, JSONL {args.rows:,} rows", j),
        (f"dlpilot, CSV (Lightning-style, sparse) {args.rows:,} rows", c),
    ]
    for label, r in rows:
        peak, base = r["peak_mib"], r["base_mib"]
        per_point = (peak - base) * 2**20 / max(r["points"], 1)
        print(
            f"| {label} | {int(r['points']):,} | {r['seconds']:.2f} | {peak:.0f} ({base:.0f}) "
            f"| {per_point:.0f} |"
        )
    speed = theirs["seconds"] / ours["seconds"]
    memory = (theirs["peak_mib"] - theirs["base_mib"]) / max(ours["peak_mib"] - ours["base_mib"], 1)
    print(
        f"\nspeed-up over EventAccumulator: {speed:.1f}x; "
        f"peak RSS growth while reading, theirs / ours: {memory:.1f}x"
    )


if __name__ == "__main__":
    main()
