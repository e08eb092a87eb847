"""Step 7: the round file, the training command with every parameter as a placeholder, the
seed and the trial directory, and the trials' settings from step 6's study (seed 001 §7.7, §3.4).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dlpilot.runbook._rules._project import ProjectScan
from dlpilot.runbook._rules._propose import Ctx, baseline_seconds, param_name
from dlpilot.runbook._steps import RunbookError


def command_line(scan: ProjectScan, params: dict[str, Any]) -> str:
    """The training command with every parameter, the seed and the output directory as
    placeholders (``{trial_dir}`` is the run's own directory)."""
    if scan.entry is None:
        raise RunbookError("no training entry point: the rules cannot write a command")
    parts = ["python", Path(scan.entry).name]
    for dest in params:
        flag = scan.flag(dest) or next(
            (f for f in scan.flags if param_name(f.dest) == dest), None
        )  # fmt: skip
        if flag is None:
            raise RunbookError(f"parameter {dest!r} is not a flag of {scan.entry}")
        parts.append(_flag_text(flag.option, "{" + param_name(flag.dest) + "}"))
    if scan.seed_flag:
        seed = scan.flag(scan.seed_flag)
        assert seed is not None
        parts.append(_flag_text(seed.option, "{seed}"))
    if scan.output_flag:
        out = scan.flag(scan.output_flag)
        assert out is not None
        parts.append(_flag_text(out.option, "{trial_dir}"))
    return " ".join(parts)


def _flag_text(option: str, value: str) -> str:
    return f"{option}{value}" if option.endswith("=") else f"{option} {value}"


def step7(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    scan, eid = ctx.scan()
    study = ctx.answer(6)
    goal = ctx.answer(5)
    if not scan.output_flag:
        raise RunbookError(
            f"step 7 (trials): {scan.entry} has no output-directory flag, so trials would write "
            "over each other; add one (e.g. --out) or write the round file yourself"
        )
    params = study["params"]
    command = command_line(scan, params)
    metrics = scan.metrics or "{trial_dir}"
    varied = {n for n, p in params.items() if p.get("role") != "fixed"}
    config = ctx.answer(3).get("config") or {}
    baseline = {n: config[n] for n in varied if n in config and _inside(params[n], config[n])}
    name = f"{_slug(Path(scan.root).name)}-r{ctx.rnd.number}-{goal['kind']}"
    seconds = baseline_seconds(ctx.state)
    workdir = str(Path(scan.entry or ".").parent)
    round_data: dict[str, Any] = {
        "name": name[:100],
        "command": command,
        "workdir": workdir,
        "metrics": metrics,
        "objective": {**study["objective"], "take": "best"},
        "params": params,
        "trials": study["trials"],
        "sampler": study["sampler"],
        "seed": ctx.rnd.number,
        "seeds": {"top": 1, "runs": max(2, int(study.get("seed_reruns") or 2))},
    }
    if baseline:
        round_data["baseline"] = baseline
    if seconds is not None:
        round_data["trial_timeout_s"] = max(600.0, round(seconds * 4))
    why = (
        f"the command runs {scan.entry} with every parameter as a placeholder, {{seed}} and "
        f"{{trial_dir}} for --{scan.output_flag}; metrics at {metrics} ({scan.metrics_reason}) "
        f"[{eid}]; the baseline is enqueued first (seed 001 §7.7, §3.4)"
    )
    return {"round": round_data}, why, [eid]


def _inside(param: dict[str, Any], value: Any) -> bool:
    if "low" in param:
        return isinstance(value, int | float) and param["low"] <= value <= param["high"]
    if "choices" in param:
        return value in param["choices"]
    return False


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._") or "project"


__all__ = ["command_line", "step7"]
