"""A trial's record as kept in Optuna's user attributes, and read back as a :class:`TrialRecord`.

User attributes travel with a trial in every storage (and with a retried copy of it), and they
show in optuna-dashboard. dlpilot keeps:

* ``dlpilot_kind``, ``dlpilot_seed``, ``dlpilot_key``: what the trial is (set when it is enqueued
  or asked); the key names an enqueued trial (``baseline``, ``seed:<n>:<seed>``) so a second
  copy of it is recognised;
* ``dlpilot``: how it ran (command, slot, worker, start and end, steps, exit cause and detail,
  output tail, git commit), written when it starts and again before it is told;
* ``dlpilot_surplus``: a trial asked for beyond the round's budget (or a duplicate), failed at
  once and left out of the round.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from dlpilot.tools.trials._results import TrialRecord, TrialState

KIND = "dlpilot_kind"
SEED = "dlpilot_seed"
KEY = "dlpilot_key"
RECORD = "dlpilot"
SURPLUS = "dlpilot_surplus"

_STATES: dict[OptunaState, TrialState] = {
    OptunaState.COMPLETE: "complete",
    OptunaState.PRUNED: "pruned",
    OptunaState.FAIL: "failed",
    OptunaState.RUNNING: "running",
    OptunaState.WAITING: "waiting",
}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def is_surplus(trial: FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(SURPLUS))


def is_interrupted(trial: FrozenTrial) -> bool:
    """A failed trial without an exit cause: its runner died or was stopped (it is re-run)."""
    record = trial.user_attrs.get(RECORD) or {}
    return trial.state == OptunaState.FAIL and not record.get("exit_cause")


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Finished with an exit cause of its own, or running now: a trial of the round's budget."""
    if is_surplus(trial):
        return False
    if trial.state == OptunaState.RUNNING:
        return True
    return trial.state.is_finished() and not is_interrupted(trial)


def is_finished(trial: FrozenTrial) -> bool:
    return trial.state.is_finished() and counts_toward_budget(trial)


def to_record(trial: FrozenTrial) -> TrialRecord:
    """The :class:`TrialRecord` of an Optuna trial (any state)."""
    attrs: dict[str, Any] = trial.user_attrs
    run: dict[str, Any] = dict(attrs.get(RECORD) or {})
    value = trial.value if trial.state == OptunaState.COMPLETE else None
    if trial.state == OptunaState.PRUNED and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    fields = set(TrialRecord.model_fields)
    extra = {k: v for k, v in run.items() if k in fields}
    extra.pop("value", None)
    if trial.state == OptunaState.RUNNING:
        extra.pop("exit_cause", None)
    return TrialRecord(
        **{
            **extra,
            "number": trial.number,
            "state": _STATES.get(trial.state, "failed"),
            "kind": attrs.get(KIND, "search"),
            "params": dict(trial.params),
            "seed": attrs.get(SEED),
            "value": value,
        }
    )


__all__ = [
    "KEY",
    "KIND",
    "RECORD",
    "SEED",
    "SURPLUS",
    "counts_toward_budget",
    "is_finished",
    "is_interrupted",
    "is_surplus",
    "now_iso",
    "to_record",
]
