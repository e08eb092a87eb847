"""Static repository inspection (ast + git) -> findings, a terminal report and a gap analysis.

The report models load eagerly (they are light); the functions, with the rules and gitpython
behind them, load on first use (see ``dlpilot.tools._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.tools._lazy import lazy_exports
from dlpilot.tools.inspect._report import InspectionReport, NotChecked, SkippedFile, render_text

if TYPE_CHECKING:
    from dlpilot.tools.inspect._run import all_rules, inspect_files, inspect_repo
    from dlpilot.tools.inspect._walk import repository_root
    from dlpilot.tools.inspect.gap import gap_report_markdown

__getattr__ = lazy_exports(
    __name__,
    {
        "all_rules": "_run",
        "inspect_files": "_run",
        "inspect_repo": "_run",
        "gap_report_markdown": "gap",
        "repository_root": "_walk",
    },
)

__all__ = [
    "InspectionReport",
    "NotChecked",
    "SkippedFile",
    "all_rules",
    "gap_report_markdown",
    "inspect_files",
    "inspect_repo",
    "render_text",
    "repository_root",
]
