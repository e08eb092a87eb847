"""Run one entry-mode task in a child process and read back its events and result."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dlpilot
from dlpilot.errors import ChildCrashed, SandboxError
from dlpilot.sandbox import ChildSpec, python_module_argv, raise_for_cause, run_child
from dlpilot.tools.checks._tail import JsonLinesTail
from dlpilot.tools.control import Control, ProgressFn

PROBE_MODULE = "dlpilot.sandbox.probe.entry"
STAGE_ERROR = f"{PROBE_MODULE}._protocol.EntryStageError"
"""How the child's user-code failures are named in its traceback; dropped from our messages."""

TICK_S = 0.5
"""How often progress events are read while the child runs: twice a second is live enough."""

CHECKS_TIMEOUT_S = 300.0
"""Entry checks: build, statistics, hashing and 200 overfit steps of a small model fit in a minute
on CPU; five leave room for a slow factory and a mid-size model."""

LR_RANGE_TIMEOUT_S = 300.0
"""LR range test: 100 training steps plus the build, the same scale as the checks."""

BATCH_SIZE_TIMEOUT_S = 600.0
"""Batch-size finder: up to ~20 trials of several steps each, some at very large batches."""

DEVICE_TIMEOUT_S = 60.0
"""Device query: importing torch and asking CUDA, nothing else."""


class _ProgressReader:
    """Forwards the child's progress events (``done``, ``total``, ``message``) to ``progress``."""

    def __init__(self, path: Path, progress: ProgressFn) -> None:
        self._tail = JsonLinesTail(path)
        self.progress = progress

    def poll(self) -> None:
        for event in self._tail.poll():
            try:
                done = float(event["done"])
                total = None if event.get("total") is None else float(event["total"])
                message = str(event.get("message", ""))
            except (ValueError, KeyError, TypeError):
                continue
            self.progress(done, total, message)


def _pythonpath() -> str:
    """The child imports the probe from the same dlpilot the parent runs."""
    root = str(Path(dlpilot.__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return root if not existing else f"{root}{os.pathsep}{existing}"


def run_entry_child(
    task: str,
    *,
    what: str,
    project_dir: Path,
    config: dict[str, Any] | None,
    params: dict[str, Any],
    control: Control | None,
    timeout_s: float,
) -> dict[str, Any]:
    """Run ``task`` and return the child's result object; a failed child raises the matching
    :class:`~dlpilot.errors.SandboxError` with ``what`` and the child's last error line."""
    control = control or Control()
    work = Path(tempfile.mkdtemp(prefix="dlpilot-entry-"))
    try:
        request_path, events_path, result_path = (
            work / "request.json",
            work / "events.jsonl",
            work / "result.json",
        )
        request = {
            "task": task,
            "config": config,
            "params": params,
            "events": str(events_path),
            "result": str(result_path),
        }
        request_path.write_text(json.dumps(request), encoding="utf-8")
        reader = _ProgressReader(events_path, control.progress)
        spec = ChildSpec(
            argv=python_module_argv(PROBE_MODULE, str(request_path)),
            cwd=project_dir,
            env={"PYTHONPATH": _pythonpath()},
            timeout_s=timeout_s,
        )
        result = run_child(spec, cancel=control.cancel, on_tick=reader.poll, tick_s=TICK_S)
        reader.poll()
        try:
            raise_for_cause(result)
        except SandboxError as exc:
            message = str(exc).replace(f"{STAGE_ERROR}: ", "")
            raise type(exc)(
                f"{what} failed: {message}", output_tail=exc.output_tail, exit_code=exc.exit_code
            ) from None
        if not result_path.is_file():
            raise ChildCrashed(
                f"{what} failed: the child exited 0 without writing a result",
                output_tail=result.output_tail,
                exit_code=result.exit_code,
            )
        data = json.loads(result_path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ChildCrashed(f"{what} failed: the child's result is not a JSON object")
        return data
    finally:
        shutil.rmtree(work, ignore_errors=True)
