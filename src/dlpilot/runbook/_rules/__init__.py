"""The deterministic rules: a proposal for every step from the project and the seeds' defaults.

``propose(root, state, step)`` returns a :class:`Proposal` whose ``why`` cites the evidence ids and
the seed 001 section; ``gather(runbook, kinds, curves=)`` records static evidence (the project
scan, the inspection, curves from a path). Nothing here runs the project's code.
"""

from __future__ import annotations

from pathlib import Path

from dlpilot.runbook._machine import Runbook
from dlpilot.runbook._results import GatherResult
from dlpilot.runbook._rules._evidence import (
    curves_evidence,
    inspection_evidence,
    project_evidence,
)
from dlpilot.runbook._rules._project import ProjectScan, scan_project
from dlpilot.runbook._rules._propose import param_name, propose
from dlpilot.runbook._rules._roundfile import command_line


def gather(runbook: Runbook, kinds: list[str], *, curves: Path | None = None) -> GatherResult:
    """Record static evidence of ``kinds`` (project, inspection, curves) in the runbook."""
    added = []
    skipped = []
    with runbook.store.transaction() as state:
        if "project" in kinds:
            added.append(project_evidence(runbook.project, state, fresh=True))
        if "inspection" in kinds:
            added.append(inspection_evidence(runbook.project, state))
        if "curves" in kinds:
            if curves is None:
                skipped.append("curves: no path given")
            else:
                added.append(curves_evidence(state, curves, source=f"curves of {curves}"))
    return GatherResult(added=added, skipped=skipped)


__all__ = [
    "ProjectScan",
    "command_line",
    "gather",
    "param_name",
    "propose",
    "scan_project",
]
