"""The checks' results as text: what ``dlpilot check`` prints and what the MCP tools put beside
their structured results for a model to read (one renderer per result, used by both)."""

from __future__ import annotations

from dlpilot.findings import render_findings
from dlpilot.tools.checks._models import OverfitResult
from dlpilot.tools.checks.entry._results import EntryReport
from dlpilot.tools.checks.project import ProjectCheck


def overfit_line(result: OverfitResult | None, where: str = "") -> str | None:
    """The overfit verdict of either mode on one line; ``None`` when the test did not run.
    ``where`` tells the mode apart (" (entry)")."""
    if result is None:
        return None
    return f"overfit test{where}: {result.verdict}: {result.reason}"


def _indented(line: str | None) -> list[str]:
    return [] if line is None else [f"  {line}"]


def render_check(report: ProjectCheck) -> str:
    """A project check: the script run, the entry-point checks, the notes, then the findings."""
    lines = [f"dlpilot check in {report.cwd}"]
    if report.script is not None:
        s = report.script
        lines.append(f"  script: {' '.join(s.argv)}: {s.run.summary}")
        lines.append(
            f"      {s.steps_observed} steps over {s.epochs_observed} epoch(s) observed"
            + (f", static pass over {len(s.inspected_files)} file(s)" if s.static_checked else "")
        )
        if s.processes:
            shown = ", ".join(
                f"{'rank ' + str(p.rank) if p.rank is not None else 'pid ' + str(p.pid)}"
                f" ({p.steps} steps{', judged' if p.primary else ''})"
                for p in s.processes
            )
            lines.append(f"      {s.launcher} processes that imported torch: {shown}")
        if s.exception is not None:
            where = f" at {s.exception.file}:{s.exception.line}" if s.exception.file else ""
            lines.append(
                f"      the script raised {s.exception.type}: {s.exception.message}{where}"
            )
        lines += _indented(overfit_line(s.overfit))
    if report.entry is not None:
        e = report.entry
        lines.append(f"  entry points ({e.config_source}): {len(e.findings)} finding(s)")
        lines += _indented(overfit_line(e.overfit, " (entry)"))
    lines += [f"  note: {n}" for n in report.notes]
    lines += render_findings(report.findings)
    return "\n".join(lines) + "\n"


def render_entry(report: EntryReport) -> str:
    """The entry-point checks of a project on their own: where the table came from, the overfit
    verdict, the findings."""
    lines = [
        f"dlpilot entry checks in {report.project_dir} ({report.config_source}): "
        f"{len(report.findings)} finding(s)"
    ]
    lines += _indented(overfit_line(report.overfit, " (entry)"))
    lines += render_findings(report.findings)
    return "\n".join(lines) + "\n"


__all__ = ["overfit_line", "render_check", "render_entry"]
