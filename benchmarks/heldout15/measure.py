"""Issue 15's held-out measurement: run ``dlpilot check`` and ``dlpilot inspect`` on every program
under ``programs/`` and count caught / missed / false alarms.

Each program lives alone in ``programs/<name>/train.py`` and names what it plants in its first
line: ``# expected: <finding id>`` or ``# expected: clean``. These programs are a held-out set: no
test may use them (they measure, they do not teach).

Per program, the ids at warning or error level found by ``check`` (runtime probe + its static pass
over the script) and by ``inspect`` (static, the program's directory) are sorted into:

- the expected id: caught by check, by inspect, or missed;
- related ids: symptoms of the planted bug (listed below per bug id, fixed before the first run);
  reported, not counted as false alarms;
- project hygiene ids: about the project around the script (no lock file, no checkpoint, no
  tracking); the programs are single scripts, so these are listed, not counted;
- false alarms: every other warning/error id (on a clean program: every non-hygiene one).

    .venv/bin/python benchmarks/heldout15/measure.py --label before [--only 03_litdrop_bug ...]

writes ``results/<label>.json`` and ``results/<label>.md`` next to this file. Programs run one
at a time with ``OMP_NUM_THREADS=1`` (a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
RESULTS = HERE / "results"

# Batches per epoch the probe observes: enough for an epoch scheduler stepped per batch to show
# (decay every 2-4 steps) and for the probe's two epochs, small enough for ~35 programs.
CHECK_STEPS = 12
# Wall-clock limit of one `dlpilot check` (the script run plus the overfit run); Lightning
# programs import slowly on a loaded 2-core machine.
CHECK_TIMEOUT_S = 180.0
# Our own limit around the check process: its timeout plus time to write the report.
CHECK_PROCESS_TIMEOUT_S = CHECK_TIMEOUT_S + 60.0
# Static inspection of one small directory takes about a second; this only guards a hang.
INSPECT_TIMEOUT_S = 120.0

COUNTED = ("warning", "error")

# Symptoms of each planted bug: when dlpilot reports these next to (or instead of) the planted
# id, they are not false alarms, but only the planted id counts as caught.
RELATED: dict[str, frozenset[str]] = {
    "lr.schedule-mismatch": frozenset(
        {"lr.too-low", "lr.too-high", "param.unchanged", "grad.exploding", "curve.diverged"}
    ),
    "mode.dropout-always-on": frozenset({"mode.train-during-eval"}),
    "loss.softmax-wrong-dim": frozenset({"loss.initial-mismatch", "overfit.single-batch-failed"}),
    "loop.clip-before-backward": frozenset(
        {"lr.too-high", "grad.exploding", "overfit.single-batch-failed"}
    ),
    "mode.step-during-eval": frozenset({"mode.eval-during-training", "mode.eval-grad-enabled"}),
    "loss.label-out-of-range": frozenset({"loss.negative", "overfit.single-batch-failed"}),
    "data.augment-on-eval": frozenset(),
    "data.labels-misaligned": frozenset({"curve.high-bias", "overfit.single-batch-failed"}),
    "data.eval-preprocess-mismatch": frozenset({"data.unnormalized"}),
    "loop.zero-grad-misplaced": frozenset(
        {"lr.too-low", "overfit.single-batch-failed", "loop.zero-grad-missing"}
    ),
    "loss.padding-not-ignored": frozenset({"loss.initial-mismatch", "data.class-imbalance"}),
    "train.select-on-train-metric": frozenset(),
}

# About the project around a script, not about its training code.
HYGIENE = frozenset(
    {
        "repro.unpinned-deps",
        "repro.no-determinism",
        "ckpt.none",
        "ckpt.incomplete",
        "ckpt.no-resume",
        "track.none",
        "train.no-early-stopping",
        "train.no-lr-schedule",
        "train.no-grad-clip",
    }
)


def expected_of(script: Path) -> str:
    first = script.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# expected:"
    if not first.startswith(prefix):
        raise SystemExit(
            f"{script}: the first line must be '{prefix} <id or clean>', not {first!r}"
        )
    return first[len(prefix) :].strip()


def dlpilot_cmd() -> list[str]:
    return [sys.executable, "-m", "dlpilot"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = "1"
    e["PYTHONWARNINGS"] = "ignore"
    return e


def run_json(cmd: list[str], cwd: Path, timeout: float) -> tuple[dict[str, Any] | None, str, float]:
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env(), check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f}s", time.monotonic() - start
    took = time.monotonic() - start
    try:
        return json.loads(proc.stdout), proc.stderr.strip()[-400:], took
    except json.JSONDecodeError:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}", took


def counted_ids(report: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(warning+error ids, error ids) of a check or inspect JSON report."""
    if report is None:
        return [], []
    findings = report.get("findings") or []
    ids = sorted({f["id"] for f in findings if f.get("severity") in COUNTED})
    errors = sorted({f["id"] for f in findings if f.get("severity") == "error"})
    return ids, errors


def measure_one(name: str) -> dict[str, Any]:
    folder = PROGRAMS / name
    expected = expected_of(folder / "train.py")
    check_cmd = [
        *dlpilot_cmd(),
        "check",
        "--json",
        "--no-entry",
        "--steps",
        str(CHECK_STEPS),
        "--timeout",
        str(CHECK_TIMEOUT_S),
        "--cwd",
        str(folder),
        "--",
        sys.executable,
        "train.py",
    ]
    check, check_note, check_s = run_json(check_cmd, folder, CHECK_PROCESS_TIMEOUT_S)
    inspect, inspect_note, inspect_s = run_json(
        [*dlpilot_cmd(), "inspect", "--json", str(folder)], folder, INSPECT_TIMEOUT_S
    )
    check_ids, check_errors = counted_ids(check)
    inspect_ids, inspect_errors = counted_ids(inspect)
    seen = set(check_ids) | set(inspect_ids)
    related = RELATED.get(expected, frozenset())
    if expected != "clean" and expected not in RELATED:
        raise SystemExit(f"{name}: unknown expected id {expected!r}")
    false_alarms = sorted(seen - {expected} - related - HYGIENE)
    row: dict[str, Any] = {
        "program": name,
        "expected": expected,
        "check_ids": check_ids,
        "inspect_ids": inspect_ids,
        "caught_by_check": expected in check_ids,
        "caught_by_inspect": expected in inspect_ids,
        "related_seen": sorted(seen & related),
        "hygiene_seen": sorted(seen & HYGIENE),
        "false_alarms": false_alarms,
        "error_false_alarms": sorted((set(check_errors) | set(inspect_errors)) & set(false_alarms)),
        "check_s": round(check_s, 1),
        "inspect_s": round(inspect_s, 1),
        "check_error": None if check is None else check.get("error"),
        "notes": [
            n
            for n in (check_note if check is None else "", inspect_note if inspect is None else "")
            if n
        ],
    }
    script = (check or {}).get("script") or {}
    if script.get("exception"):
        exc = script["exception"]
        row["notes"].append(f"script raised {exc.get('type')}: {exc.get('message', '')[:120]}")
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    buggy = [r for r in rows if r["expected"] != "clean"]
    clean = [r for r in rows if r["expected"] == "clean"]
    return {
        "buggy": len(buggy),
        "clean": len(clean),
        "caught_by_check": sum(r["caught_by_check"] for r in buggy),
        "caught_by_inspect": sum(r["caught_by_inspect"] for r in buggy),
        "caught_by_either": sum(r["caught_by_check"] or r["caught_by_inspect"] for r in buggy),
        "missed": sum(not (r["caught_by_check"] or r["caught_by_inspect"]) for r in buggy),
        "clean_with_false_alarm": sum(bool(r["false_alarms"]) for r in clean),
        "clean_with_error_false_alarm": sum(bool(r["error_false_alarms"]) for r in clean),
        "buggy_with_false_alarm": sum(bool(r["false_alarms"]) for r in buggy),
        "false_alarm_ids": sum(len(r["false_alarms"]) for r in rows),
        "runs_without_report": sum(bool(r["notes"]) and not r["check_ids"] for r in rows),
    }


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        f"# issue 15 held-out set: {result['label']}",
        "",
        f"{result['date']}, {result['machine']}, commit {result['commit']}, "
        f"{result['total_s']:.0f} s in all "
        f"(check --steps {CHECK_STEPS} --timeout {CHECK_TIMEOUT_S:.0f}).",
        "",
        f"- buggy programs: {s['buggy']}; caught by check {s['caught_by_check']}, by inspect "
        f"{s['caught_by_inspect']}, by either {s['caught_by_either']}; missed {s['missed']}",
        f"- correct programs: {s['clean']}; with a false alarm {s['clean_with_false_alarm']} "
        f"(error level: {s['clean_with_error_false_alarm']})",
        f"- buggy programs with an unrelated warning/error: {s['buggy_with_false_alarm']}",
        "",
        "| program | expected | check (warn+err) | inspect (warn+err) | verdict | false alarms |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if r["expected"] == "clean":
            verdict = "clean" if not r["false_alarms"] else "false alarm"
        elif r["caught_by_check"] or r["caught_by_inspect"]:
            ways = [
                w
                for w, hit in (("check", r["caught_by_check"]), ("inspect", r["caught_by_inspect"]))
                if hit
            ]
            verdict = "caught (" + ", ".join(ways) + ")"
        else:
            verdict = "missed"
        lines.append(
            f"| {r['program']} | {r['expected']} | {', '.join(r['check_ids']) or '-'} | "
            f"{', '.join(r['inspect_ids']) or '-'} | {verdict} | "
            f"{', '.join(r['false_alarms']) or '-'} |"
        )
    notes = [(r["program"], n) for r in result["rows"] for n in r["notes"]]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {p}: {n}" for p, n in notes]
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="names the result files, e.g. before / after")
    ap.add_argument("--only", nargs="*", default=None, help="program folders to run (default: all)")
    args = ap.parse_args()
    names = sorted(p.name for p in PROGRAMS.iterdir() if (p / "train.py").is_file())
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise SystemExit(f"no such program(s): {', '.join(unknown)}")
        names = [n for n in names if n in args.only]
    start = time.monotonic()
    rows = []
    for name in names:
        row = measure_one(name)
        rows.append(row)
        print(
            f"{name:28s} {row['expected']:30s} check={','.join(row['check_ids']) or '-'} "
            f"inspect={','.join(row['inspect_ids']) or '-'} "
            f"fa={','.join(row['false_alarms']) or '-'} "
            f"({row['check_s']}s + {row['inspect_s']}s)",
            flush=True,
        )
    result = {
        "label": args.label,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores (shared), "
            f"Python {platform.python_version()}"
        ),
        "commit": git_commit(),
        "total_s": round(time.monotonic() - start, 1),
        "summary": summarize(rows),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.label}.json").write_text(
        json.dumps(result, indent=2) + "\n", encoding="utf-8"
    )
    (RESULTS / f"{args.label}.md").write_text(markdown(result), encoding="utf-8")
    print(json.dumps(result["summary"]))


if __name__ == "__main__":
    main()
