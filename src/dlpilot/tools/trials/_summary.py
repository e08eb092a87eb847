"""A round's summary: its trials as records, the best one, the baseline and the counts.

:func:`build_summary` reads an open study; :func:`study_summary` finds a study by name under a
project (its folder keeps the round and the storage it was started with).
"""

from __future__ import annotations

from pathlib import Path

import optuna

from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._tail import TailReader
from dlpilot.tools.trials import _records as rec
from dlpilot.tools.trials._results import BestTrial, StudySummary, TrialRecord
from dlpilot.tools.trials._round import RoundFile, fill
from dlpilot.tools.trials._storage import find_study, load_study, open_storage, read_meta, redact


def build_summary(round_: RoundFile, study: optuna.Study, storage_url: str = "") -> StudySummary:
    """The summary of ``study`` as run from ``round_`` (surplus trials left out)."""
    records = [rec.to_record(t) for t in study.get_trials(deepcopy=False) if not rec.is_surplus(t)]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    summary = StudySummary(
        study=round_.name,
        direction=round_.objective.direction,
        metric=round_.objective.metric,
        storage=redact(storage_url) if storage_url else "journal",
        best=_best(records, round_.objective.direction),
        baseline=next((r for r in records if r.kind == "baseline" and r.state != "failed"), None)
        or next((r for r in records if r.kind == "baseline"), None),
        trials=records,
        counts=counts,
    )
    # the playbook's analysis of the round: its findings and the answer to its question
    from dlpilot.tools.trials._analysis import analyze_round

    summary.findings, summary.answer = analyze_round(round_, records, trial_curves(round_, records))
    return summary


def trial_curves(round_: RoundFile, records: list[TrialRecord]) -> dict[int, Run]:
    """Each trial's curves as read from its metrics (by trial number); trials whose metrics are
    missing or unreadable are left out. For the analysis and the plots of the top trials."""
    curves: dict[int, Run] = {}
    for r in records:
        if r.dir is None:
            continue
        values = {
            **round_.fixed,
            **r.params,
            "seed": r.seed if r.seed is not None else round_.seed,
            "trial_dir": r.dir,
            "trial_number": r.number,
            "study": round_.name,
        }
        try:
            path = Path(fill(round_.metrics, values))
        except (KeyError, ValueError):
            continue
        run = TailReader(path if path.is_absolute() else round_.work_dir / path).poll()
        if run is not None:
            curves[r.number] = run
    return curves


def _best(records: list[TrialRecord], direction: str) -> BestTrial | None:
    done = [r for r in records if r.state == "complete" and r.value is not None]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    best = min(done, key=lambda r: (sign * float(r.value or 0.0), r.number))
    assert best.value is not None
    return BestTrial(number=best.number, value=best.value, params=best.params)


def study_round(name: str, project: str | Path = ".") -> RoundFile:
    """The round study ``name`` under ``project`` was run from."""
    return read_meta(find_study(name, Path(project).resolve()))[0]


def study_summary(name: str, project: str | Path = ".") -> StudySummary:
    """The summary of study ``name`` under ``project`` (the round's working directory)."""
    folder = find_study(name, Path(project).resolve())
    round_, url = read_meta(folder)
    storage = open_storage(url, folder)
    return build_summary(round_, load_study(name, storage), url)


__all__ = ["build_summary", "study_round", "study_summary", "trial_curves"]
