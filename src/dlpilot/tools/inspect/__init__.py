"""Static repository inspection (ast + git) -> findings, a terminal report and a gap analysis."""

from __future__ import annotations

from dlpilot.tools.inspect._report import (
    InspectionReport,
    NotChecked,
    SkippedFile,
    render_text,
)
from dlpilot.tools.inspect._run import all_rules, inspect_files, inspect_repo
from dlpilot.tools.inspect.gap import gap_report_markdown

__all__ = [
    "InspectionReport",
    "NotChecked",
    "SkippedFile",
    "all_rules",
    "gap_report_markdown",
    "inspect_files",
    "inspect_repo",
    "render_text",
]
