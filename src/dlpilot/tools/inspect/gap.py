"""The gap analysis of seed 000 ("Gap Analysis Template"), filled from a static inspection.

Each template row is decided by the finding ids listed in ``GAP_ROWS``: ✅ when every one of its
checks ran and found nothing, ❌ with the first finding's message and place when one found
something, and ➖ when static inspection cannot decide the row (a GPU, installed packages, data
versioning) or a check could not run (git checks outside a git repository).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dlpilot.findings import Finding, Severity
from dlpilot.tools.inspect._report import InspectionReport

PASS, FAIL, UNKNOWN = "✅", "❌", "➖"
PRIORITY_FIXES = 3
"""The template lists three priority fixes."""
MAX_RECOMMENDATIONS = 15
"""Recommendations past this many are counted, not listed, so the report stays readable."""


@dataclass(frozen=True)
class GapRow:
    check: str
    ids: tuple[str, ...] = ()
    why_not: str = ""  # for rows no static check decides: what would


RUNTIME = "not checked statically: run `dlpilot check` on the training command"
GAP_ROWS: dict[str, tuple[GapRow, ...]] = {
    "Environment": (
        GapRow("GPU available", why_not=RUNTIME),
        GapRow("CUDA compatible", why_not=RUNTIME),
        GapRow("Framework installed", why_not=RUNTIME),
        GapRow("Memory sufficient", why_not=RUNTIME),
    ),
    "Reproducibility": (
        GapRow("Seeds set", ("repro.no-seed", "data.worker-seed")),
        GapRow("Environment exported", ("repro.unpinned-deps",)),
        GapRow("Config versioned", ("repo.dirty",)),
        GapRow(
            "Data versioned",
            why_not="not checked statically: human judgment (DVC, dataset "
            "hashes or versions are project conventions)",
        ),
    ),
    "Data": (
        GapRow("Splits defined", ("data.no-split",)),
        GapRow(
            "No leakage verified",
            ("data.split-overlap", "data.norm-stats-leak", "data.augment-on-eval"),
        ),
        GapRow("Preprocessing documented", why_not="not checked statically: human judgment"),
        GapRow("Data validated", why_not=RUNTIME + " (non-finite, constant, unnormalized data)"),
    ),
    "Training": (
        GapRow("Experiment tracking", ("track.none",)),
        GapRow("Checkpointing", ("ckpt.none", "ckpt.incomplete", "ckpt.no-resume")),
        GapRow(
            "Validation loop",
            (
                "train.no-validation",
                "mode.train-during-eval",
                "mode.eval-grad-enabled",
                "mode.eval-during-training",
            ),
        ),
        GapRow("Early stopping", ("train.no-early-stopping",)),
        GapRow("Metrics logged", ("track.none",)),
    ),
    "Code Quality": (
        GapRow("Tests exist", ("repo.no-tests",)),
        GapRow("No hardcoded paths", ("repo.hardcoded-paths",)),
        GapRow("Documentation", ("repo.no-readme",)),
        GapRow(
            "Git ignored properly", ("repo.gitignore-artifacts", "repo.large-files", "repo.secrets")
        ),
    ),
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _place(f: Finding) -> str:
    places = [e.location() for e in f.evidence if e.location()]
    return f" ({', '.join(places[:2])}{', ...' if len(places) > 2 else ''})" if places else ""


def row_status(report: InspectionReport, row: GapRow) -> tuple[str, str]:
    """The row's status and its note."""
    if not row.ids:
        return UNKNOWN, row.why_not
    found = [f for f in report.findings if f.id in row.ids]
    if found:
        more = f"; and {len(found) - 1} more" if len(found) > 1 else ""
        return FAIL, f"{found[0].message}{_place(found[0])}{more}"
    undecided = [i for i in row.ids if not report.decided(i)]
    if undecided:
        reasons = {n.id: n.reason for n in report.not_checked}
        why = "; ".join(f"{i}: {reasons.get(i, 'no rule for it ran')}" for i in undecided)
        return UNKNOWN, f"not checked ({why})"
    return PASS, "checked: " + ", ".join(row.ids)


def _finding_line(f: Finding) -> str:
    return f"**{f.id}** ({f.severity.value}): {_cell(f.message)}{_place(f)}"


def gap_report_markdown(
    report: InspectionReport, *, project_name: str | None = None, date: dt.date | str | None = None
) -> str:
    """Seed 000's gap analysis, in its exact structure, filled from ``report``."""
    name = project_name or Path(report.root, report.scope).name or report.root
    day = date.isoformat() if isinstance(date, dt.date) else (date or dt.date.today().isoformat())
    out = [f"## Project: {name}", f"## Date: {day}", "## Analyst: dlpilot (static inspection)", ""]
    for section, rows in GAP_ROWS.items():
        out += [f"### {section}", "| Check | Status | Notes |", "|-------|--------|-------|"]
        for row in rows:
            status, note = row_status(report, row)
            out.append(f"| {row.check} | {status} | {_cell(note)} |")
        out.append("")
    urgent = [f for f in report.findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    top = urgent[:PRIORITY_FIXES]
    out.append("### Priority Fixes")
    if top:
        out += [f"{i}. {_finding_line(f)}" for i, f in enumerate(top, start=1)]
    else:
        out.append("1. No error or warning findings from static inspection.")
    out += ["", "### Recommendations"]
    rest = [f for f in report.findings if f not in top]
    recs = [f"- {_finding_line(f)}" for f in rest[:MAX_RECOMMENDATIONS]]
    if len(rest) > MAX_RECOMMENDATIONS:
        recs.append(
            f"- ... and {len(rest) - MAX_RECOMMENDATIONS} more findings (see the full "
            "inspection report)"
        )
    if report.skipped:
        recs.append(
            f"- {len(report.skipped)} file(s) could not be inspected (e.g. "
            f"{_cell(report.skipped[0].file)}: {_cell(report.skipped[0].reason)})"
        )
    recs.append(
        "- Run `dlpilot check` on the training command to decide the rows marked ➖ "
        "and to confirm the static findings at run time."
    )
    out += recs
    return "\n".join(out) + "\n"


__all__ = ["FAIL", "GAP_ROWS", "PASS", "UNKNOWN", "GapRow", "gap_report_markdown", "row_status"]
