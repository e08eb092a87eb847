"""Static evidence the rules read themselves, and the typed views of recorded evidence.

Everything here reads files; nothing runs the project's code. Evidence a process produced (a
``check`` run, a baseline run's curves, a trials summary) is recorded by a driver through
:meth:`Runbook.add_evidence` with the same shapes:

- ``project``: :class:`ProjectScan`
- ``inspection``: ``InspectionReport`` (``findings``, ``counts``)
- ``check``: ``CheckReport`` (``findings``)
- ``curves``: ``{"path", "seconds", "diagnosis": CurveDiagnosis}``
- ``trials``: ``StudySummary``
- ``lr-range``: ``LrRangeResult`` (``suggestion``, ``min_loss_lr``)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlpilot.errors import CurveReadError, DlpilotError
from dlpilot.runbook._machine import record_evidence
from dlpilot.runbook._rules._project import ProjectScan, scan_project
from dlpilot.runbook._state import EvidenceRecord, RunbookState
from dlpilot.tools.curves import CurveDiagnosis
from dlpilot.tools.trials import StudySummary


def project_evidence(root: Path, state: RunbookState, *, fresh: bool = False) -> EvidenceRecord:
    """The latest project scan, scanning (and recording) it when there is none."""
    latest = state.latest("project")
    if latest is not None and not fresh:
        return latest
    scan = scan_project(root)
    summary = (
        f"entry point {scan.entry or 'not found'}; {len(scan.tunable)} tunable flags; "
        f"output flag {scan.output_flag or 'none'}; metrics {scan.metrics or 'unknown'}"
    )
    return record_evidence(
        state, "project", f"static scan of {root} (ast)", scan.model_dump(mode="json"), summary
    )


def inspection_evidence(root: Path, state: RunbookState) -> EvidenceRecord:
    """An inspection recorded in this round, running the (static) inspection when there is none."""
    started = state.current.started
    latest = state.latest("inspection")
    if latest is not None and latest.at >= started:
        return latest
    from dlpilot.tools.inspect import inspect_repo

    report = inspect_repo(root)
    counts = {str(k): v for k, v in report.counts.items()}
    data = {"findings": [f.model_dump(mode="json") for f in report.findings], "counts": counts}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    return record_evidence(state, "inspection", f"inspect_repo {root} (static)", data, summary)


def curves_evidence(
    state: RunbookState, path: Path, *, seconds: float | None = None, source: str = ""
) -> EvidenceRecord:
    """Read and diagnose the curves under ``path`` and record them."""
    from dlpilot.tools.curves import diagnose_runs, read_runs

    runs = read_runs(path)
    if not runs:
        raise CurveReadError(f"no training curves found under {str(path)!r}")
    diagnosis = diagnose_runs(runs)
    data: dict[str, Any] = {
        "path": str(path),
        "seconds": seconds,
        "diagnosis": diagnosis.model_dump(mode="json"),
    }
    summary = f"verdict {diagnosis.verdict}; findings {', '.join(sorted(diagnosis.ids)) or 'none'}"
    return record_evidence(state, "curves", source or f"curves of {path}", data, summary)


def scan_of(record: EvidenceRecord) -> ProjectScan:
    return ProjectScan.model_validate(record.data)


def diagnosis_of(record: EvidenceRecord) -> CurveDiagnosis | None:
    data = record.data.get("diagnosis")
    if not isinstance(data, dict):
        return None
    try:
        return CurveDiagnosis.model_validate(data)
    except ValueError:
        return None


def summary_of(record: EvidenceRecord) -> StudySummary:
    try:
        return StudySummary.model_validate(record.data)
    except ValueError as exc:
        raise DlpilotError(f"evidence {record.id} is not a trials summary: {exc}") from exc


def findings_of(record: EvidenceRecord) -> list[dict[str, Any]]:
    found = record.data.get("findings")
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []


__all__ = [
    "curves_evidence",
    "diagnosis_of",
    "findings_of",
    "inspection_evidence",
    "project_evidence",
    "scan_of",
    "summary_of",
]
