"""Hugging Face ``Trainer`` state: ``trainer_state.json`` and its ``log_history``.

The Trainer writes ``json.dumps(asdict(state), indent=2, sort_keys=True)``; ``log_history`` is a
list of dicts, one per logging event, each with ``step`` and ``epoch``:

* training logs: ``loss``, ``grad_norm``, ``learning_rate`` (-> ``train/loss``, ``grad_norm``,
  ``lr``);
* evaluation logs: ``eval_loss``, ``eval_<metric>``, ``eval_runtime`` ... (-> ``val/...``);
* one end-of-training summary (``train_runtime``, ``train_loss`` = the mean loss of the whole run,
  ``total_flos`` ...): skipped, since its ``train_loss`` is not a point of the loss curve.

A path may be the file, a checkpoint directory, or a Trainer ``output_dir``: of its
``trainer_state.json`` and ``checkpoint-*/trainer_state.json`` the one with the highest
``global_step`` is read (the latest; ties go to the output directory's own file).
A half-written file keeps the ``log_history`` entries that are complete, with a warning.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder
from dlpilot.tools.curves.readers._jsonl import add_columns

STATE_FILE = "trainer_state.json"
_SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second"}
_HISTORY = re.compile(r'"log_history"\s*:\s*\[')
_GLOBAL_STEP = re.compile(r'"global_step"\s*:\s*(\d+)')


class HfTrainerReader(Reader):
    format = "hf-trainer"
    claims_subtree = True

    def detect(self, path: Path) -> bool:
        if path.is_file():
            return path.name == STATE_FILE
        if path.is_dir():
            return (path / STATE_FILE).is_file() or any(
                (p / STATE_FILE).is_file() for p in path.glob("checkpoint-*")
            )
        return False

    def read(self, path: Path) -> list[Run]:
        if path.is_dir():
            candidates = [path / STATE_FILE, *sorted(path.glob(f"checkpoint-*/{STATE_FILE}"))]
            candidates = [c for c in candidates if c.is_file()]
            if not candidates:
                raise CurveReadError(f"{path}: no {STATE_FILE} here or in checkpoint-*/")
            file = max(candidates, key=lambda c: (_global_step(c), c.parent == path))
            name = path.name
        else:
            file = path
            parent = path.parent
            name = parent.parent.name if parent.name.startswith("checkpoint-") else parent.name
        run = Run(name=name or file.stem, source=str(file), format=self.format)
        history = _load_history(file, run.warnings)
        rows = [e for e in history if isinstance(e, dict) and not (_SUMMARY_KEYS & e.keys())]
        builder = SeriesBuilder()
        add_columns(rows, builder, file, run.warnings)
        return [builder.build(run)]


def _global_step(file: Path) -> int:
    try:
        with file.open("rb") as f:
            head = f.read(1 << 16).decode("utf-8", "replace")
    except OSError:
        return -1
    # sort_keys puts "global_step" before "log_history"; fall back to the checkpoint number.
    m = _GLOBAL_STEP.search(head)
    if m:
        return int(m.group(1))
    n = re.search(r"checkpoint-(\d+)", str(file.parent.name))
    return int(n.group(1)) if n else -1


def _load_history(file: Path, warnings: list[str]) -> list[object]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CurveReadError(f"{file}: cannot read {STATE_FILE}: {e}") from e
    try:
        state = json.loads(text)
    except json.JSONDecodeError as e:
        entries = _salvage(text)
        if entries is None:
            raise CurveReadError(f"{file}: not valid JSON ({e}) and no log_history found") from e
        warnings.append(
            f"{file}: not valid JSON ({e.msg} at char {e.pos}: half-written?); "
            f"kept the {len(entries)} complete log_history entries before the damage"
        )
        return entries
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise CurveReadError(f"{file}: no log_history list in {STATE_FILE}")
    history: list[object] = state["log_history"]
    return history


def _salvage(text: str) -> list[object] | None:
    """The complete entries of log_history in a truncated file, or None without one."""
    m = _HISTORY.search(text)
    if m is None:
        return None
    decoder = json.JSONDecoder()
    out: list[object] = []
    pos = m.end()
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return out
        out.append(obj)


__all__ = ["HfTrainerReader"]
