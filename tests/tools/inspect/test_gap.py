from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlpilot.findings import CATALOGUE, finding
from dlpilot.tools.inspect import InspectionReport, NotChecked, inspect_repo
from dlpilot.tools.inspect.gap import GAP_ROWS, gap_report_markdown

from ...conftest import SHARED


def _report(**kw: object) -> InspectionReport:
    base: dict[str, object] = {
        "root": "/work/proj",
        "checks_run": sorted(CATALOGUE),
        "files_scanned": 3,
    }
    base.update(kw)
    return InspectionReport.model_validate(base)


def _row(md: str, check: str) -> list[str]:
    [line] = [ln for ln in md.splitlines() if ln.startswith(f"| {check} |")]
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_the_gap_report_follows_the_seed_template_structure() -> None:
    md = gap_report_markdown(_report(), project_name="mnist", date="2026-03-01")
    headings = [ln for ln in md.splitlines() if ln.startswith("#")]
    assert headings == [
        "## Project: mnist",
        "## Date: 2026-03-01",
        "## Analyst: dlpilot (static inspection)",
        "### Environment",
        "### Reproducibility",
        "### Data",
        "### Training",
        "### Code Quality",
        "### Priority Fixes",
        "### Recommendations",
    ]
    assert md.count("| Check | Status | Notes |") == 5


@pytest.mark.skipif(
    not SHARED.joinpath("seeds").exists(), reason="shared seeds are not beside the checkout"
)
def test_the_gap_rows_are_exactly_the_seed_templates_rows() -> None:
    seed = next(SHARED.joinpath("seeds").glob("000_*.txt")).read_text(encoding="utf-8")
    template = seed.split("## Gap Analysis Template", 1)[1].split("```", 2)[1]
    rows = re.findall(r"^\| ([^|]+?) \| ✅/❌ \|", template, flags=re.MULTILINE)
    sections = re.findall(r"^### (.+)$", template, flags=re.MULTILINE)
    assert [r.check for rs in GAP_ROWS.values() for r in rs] == rows
    assert list(GAP_ROWS) == [s for s in sections if s not in ("Priority Fixes", "Recommendations")]


def test_every_id_a_gap_row_names_is_in_the_catalogue() -> None:
    for rows in GAP_ROWS.values():
        for row in rows:
            assert set(row.ids) <= set(CATALOGUE), row.check
            assert row.ids or row.why_not


def test_rows_pass_fail_or_say_they_were_not_checked() -> None:
    findings = [
        finding("repro.no-seed", "no seed is set", how="static", file="train.py", line=4),
        finding("repo.no-tests", "no tests found", how="static"),
    ]
    report = _report(
        findings=findings,
        not_checked=[NotChecked(id="repo.dirty", reason="not a git repository")],
    )
    md = gap_report_markdown(report)
    assert _row(md, "Seeds set")[1:] == ["❌", "no seed is set (train.py:4)"]
    assert _row(md, "Tests exist")[1] == "❌"
    assert _row(md, "Splits defined")[1] == "✅"
    assert _row(md, "GPU available")[1] == "➖"
    config = _row(md, "Config versioned")
    assert config[1] == "➖" and "not a git repository" in config[2]


def test_a_check_no_rule_ran_is_not_claimed_as_passed() -> None:
    md = gap_report_markdown(_report(checks_run=["repo.no-tests"]))
    assert _row(md, "Splits defined")[1] == "➖"
    assert _row(md, "Tests exist")[1] == "✅"


def test_priority_fixes_are_the_top_errors_and_warnings_and_the_rest_are_recommendations() -> None:
    findings = [
        finding("repo.secrets", "an API key in cfg.py", how="static", file="cfg.py", line=2),
        finding("repro.no-seed", "no seed", how="static", file="a.py", line=1),
        finding("repro.unpinned-deps", "unpinned", how="static", file="requirements.txt"),
        finding("track.none", "no tracking", how="static"),
        finding("repo.no-readme", "no README", how="static"),
    ]
    md = gap_report_markdown(_report(findings=findings))
    fixes = md.split("### Priority Fixes\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [ln.split("**")[1] for ln in fixes] == [
        "repo.secrets",
        "repro.no-seed",
        "repro.unpinned-deps",
    ]
    recs = md.split("### Recommendations\n", 1)[1]
    assert "track.none" in recs and "repo.no-readme" in recs


def test_pipes_in_messages_do_not_break_the_tables() -> None:
    f = finding("repo.no-tests", "a | b\nc", how="static")
    md = gap_report_markdown(_report(findings=[f]))
    assert "| Tests exist | ❌ | a \\| b c |" in md


def test_a_gap_report_is_made_from_a_real_inspection(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n")
    md = gap_report_markdown(inspect_repo(tmp_path))
    assert md.startswith(f"## Project: {tmp_path.name}\n")
    assert "not a git repository" in _row(md, "Config versioned")[2]
