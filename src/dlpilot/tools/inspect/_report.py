"""The result of a static inspection, and its terminal rendering (JSON is ``model_dump_json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dlpilot.findings import Finding, Severity, render_findings


class SkippedFile(BaseModel):
    """A file (or directory) that was not inspected, and why."""

    model_config = ConfigDict(extra="forbid")

    file: str
    reason: str


class NotChecked(BaseModel):
    """A check that ran but could not decide, e.g. a git check in a directory that is not a git
    repository. Its id is in ``checks_run`` yet says nothing either way."""

    model_config = ConfigDict(extra="forbid")

    id: str
    reason: str


class InspectionReport(BaseModel):
    """Every finding of one static inspection, and what was (and was not) looked at."""

    model_config = ConfigDict(extra="forbid")

    root: str = Field(
        description="the directory the evidence paths are relative to, absolute: the repository "
        "root of the inspected directory (the nearest one holding .git), else that directory"
    )
    scope: str = Field(
        default="",
        description="the inspected directory relative to root when it is a subdirectory, else ''",
    )
    findings: list[Finding] = Field(default_factory=list)
    files_scanned: int = Field(default=0, description="Python files read, parsed and checked")
    skipped: list[SkippedFile] = Field(default_factory=list)
    is_git: bool = False
    counts: dict[Severity, int] = Field(
        default_factory=lambda: {s: 0 for s in Severity}, description="findings per severity"
    )
    checks_run: list[str] = Field(default_factory=list, description="ids the rules could report")
    not_checked: list[NotChecked] = Field(default_factory=list)
    cancelled: bool = Field(default=False, description="stopped early on request")

    def by_id(self, id_: str) -> list[Finding]:
        return [f for f in self.findings if f.id == id_]

    def decided(self, id_: str) -> bool:
        """True when the check for ``id_`` ran and could decide (found something or nothing)."""
        return id_ in self.checks_run and all(n.id != id_ for n in self.not_checked)


def count_by_severity(findings: list[Finding]) -> dict[Severity, int]:
    counts = {s: 0 for s in Severity}
    for f in findings:
        counts[f.severity] += 1
    return counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_text(report: InspectionReport, *, max_locations: int = 5) -> str:
    """A readable terminal report: a summary line, findings grouped by severity with file:line."""
    c = report.counts
    lines = [
        f"dlpilot inspection of {report.root}"
        + (f" (only {report.scope}/, paths from the repository root)" if report.scope else ""),
        f"{_plural(report.files_scanned, 'Python file')} checked, "
        f"{len(report.skipped)} skipped, {'a' if report.is_git else 'not a'} git repository"
        + (" (cancelled before the end)" if report.cancelled else ""),
        f"{_plural(c[Severity.ERROR], 'error')}, {_plural(c[Severity.WARNING], 'warning')}, "
        f"{c[Severity.INFO]} info",
    ]
    lines += render_findings(report.findings, max_locations=max_locations)
    if report.not_checked:
        lines += ["", "Not checked"]
        lines += [f"  [{n.id}] {n.reason}" for n in report.not_checked]
    if report.skipped:
        lines += ["", f"Skipped ({len(report.skipped)})"]
        shown = report.skipped[:20]
        lines += [f"  {s.file}: {s.reason}" for s in shown]
        if len(report.skipped) > len(shown):
            lines.append(f"  ... and {len(report.skipped) - len(shown)} more")
    return "\n".join(lines) + "\n"


__all__ = ["InspectionReport", "NotChecked", "SkippedFile", "count_by_severity", "render_text"]
