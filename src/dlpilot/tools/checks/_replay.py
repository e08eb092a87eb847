"""A recorded probe run in place of a real child: the fake runner beside the real one.

:func:`~dlpilot.tools.checks.check_script` and :func:`~dlpilot.tools.checks.overfit_test` start
their children through a *runner* with the signature of :func:`dlpilot.sandbox.run_child` (the
real one by default). :class:`RecordedRunner` is a runner that starts nothing: it writes the
events a real probe run recorded where the probe would have written them and returns the
recorded :class:`~dlpilot.sandbox.ChildResult`, so everything above the child (reading the
events, progress, every rule, the overfit verdict, the report) runs as it does for real, in
milliseconds. :class:`RecordingRunner` wraps the real runner and keeps what each child left.

A recording is a directory with ``<mode>.jsonl`` (the probe's events) and ``<mode>.result.json``
(how the child ended) for each probe mode that ran (``script``, ``overfit``). Paths under the
child's working directory are stored relative to it (``{CWD}``), so a recording replays in any
directory holding the same script.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from dlpilot.errors import InvalidArgument
from dlpilot.sandbox import ChildResult, ChildSpec, run_child

CWD_MARK = "{CWD}"
"""Stands for the child's working directory in recorded events."""


class ChildRunner(Protocol):
    """Runs one child to its end: :func:`dlpilot.sandbox.run_child` or a stand-in."""

    def __call__(
        self,
        spec: ChildSpec,
        *,
        cancel: threading.Event | None = None,
        on_tick: Callable[[], None] | None = None,
        tick_s: float = 0.5,
    ) -> ChildResult: ...


def _arg(spec: ChildSpec, flag: str) -> str:
    """The value after ``flag`` in the probe's command line."""
    argv = list(spec.argv)
    end = argv.index("--") if "--" in argv else len(argv)
    if flag not in argv[:end] or argv.index(flag) + 1 >= end:
        raise InvalidArgument(f"not a probe command line (no {flag}): {argv!r}")
    return argv[argv.index(flag) + 1]


def _json_cwd(cwd: Path) -> str:
    """The working directory as it appears inside a JSON string."""
    return json.dumps(str(cwd))[1:-1]


class RecordedRunner:
    """Replays the recording in ``directory`` for each probe child it is asked to run."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if (
            not (self.directory / "script.result.json").is_file()
            and not (self.directory / "overfit.result.json").is_file()
        ):
            raise InvalidArgument(f"no recorded probe run in {str(self.directory)!r}")
        self.modes: list[str] = []
        """The probe modes replayed, in order."""

    def __call__(
        self,
        spec: ChildSpec,
        *,
        cancel: threading.Event | None = None,
        on_tick: Callable[[], None] | None = None,
        tick_s: float = 0.5,
    ) -> ChildResult:
        mode, out = _arg(spec, "--mode"), Path(_arg(spec, "--out"))
        events, result = self.directory / f"{mode}.jsonl", self.directory / f"{mode}.result.json"
        if not result.is_file():
            raise InvalidArgument(f"no recorded {mode!r} run in {str(self.directory)!r}")
        self.modes.append(mode)
        cwd = Path(spec.cwd)
        text = events.read_text(encoding="utf-8") if events.is_file() else ""
        out.write_text(text.replace(CWD_MARK, _json_cwd(cwd)), encoding="utf-8")
        if on_tick is not None:
            on_tick()
        fields: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        fields = {
            k: v.replace(CWD_MARK, str(cwd)) if isinstance(v, str) else v for k, v in fields.items()
        }
        return ChildResult(**{**fields, "argv": list(spec.argv)})


class RecordingRunner:
    """Runs each child with ``runner`` (the real one by default) and records it in
    ``directory``, ready for :class:`RecordedRunner`."""

    def __init__(self, directory: Path, runner: ChildRunner = run_child) -> None:
        self.directory = Path(directory)
        self.runner = runner

    def __call__(
        self,
        spec: ChildSpec,
        *,
        cancel: threading.Event | None = None,
        on_tick: Callable[[], None] | None = None,
        tick_s: float = 0.5,
    ) -> ChildResult:
        result = self.runner(spec, cancel=cancel, on_tick=on_tick, tick_s=tick_s)
        mode, out = _arg(spec, "--mode"), Path(_arg(spec, "--out"))
        cwd = Path(spec.cwd)
        self.directory.mkdir(parents=True, exist_ok=True)
        text = out.read_text(encoding="utf-8") if out.is_file() else ""
        (self.directory / f"{mode}.jsonl").write_text(
            text.replace(_json_cwd(cwd), CWD_MARK), encoding="utf-8"
        )
        fields = {
            k: v.replace(str(cwd), CWD_MARK) if isinstance(v, str) else v
            for k, v in dataclasses.asdict(result).items()
            if k != "argv"
        }
        (self.directory / f"{mode}.result.json").write_text(
            json.dumps(fields, indent=1) + "\n", encoding="utf-8"
        )
        return result


__all__ = ["CWD_MARK", "ChildRunner", "RecordedRunner", "RecordingRunner"]
