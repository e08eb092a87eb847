from __future__ import annotations

import re

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.findings import CATALOGUE, Severity, finding, merge_findings

from .conftest import SHARED


def _catalogue_rows_from_markdown() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (SHARED / "checks.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| ([a-z]+\.[a-z0-9-]+) \| (\w+) \| ([SRCT ]+) \|", line)
        if m:
            rows[m.group(1)] = (m.group(2), "".join(m.group(3).split()))
    return rows


@pytest.mark.skipif(
    not (SHARED / "checks.md").exists(), reason="shared/checks.md is not beside the checkout"
)
def test_catalogue_matches_the_shared_check_list_id_for_id():
    rows = _catalogue_rows_from_markdown()
    assert set(rows) == set(CATALOGUE)
    letter = {"static": "S", "runtime": "R", "curve": "C", "trials": "T"}
    for id_, (sev, ways) in rows.items():
        spec = CATALOGUE[id_]
        assert spec.severity.value == sev, id_
        assert "".join(letter[w] for w in spec.ways) == ways, id_


def test_finding_takes_severity_from_the_catalogue():
    f = finding("loop.step-missing", "no step", how="static", file="train.py", line=3)
    assert f.severity is Severity.ERROR
    assert f.evidence[0].location() == "train.py:3"


def test_unknown_finding_id_is_refused_with_its_name():
    with pytest.raises(InvalidArgument, match=r"loop\.nope"):
        finding("loop.nope", "x", how="static")


def test_runtime_and_static_findings_of_one_id_merge_into_one():
    s = finding("loop.zero-grad-missing", "static", how="static", file="t.py", line=9)
    r = finding("loop.zero-grad-missing", "runtime", how="runtime", step=2)
    merged = merge_findings([s, r])
    assert len(merged) == 1
    assert {e.how for e in merged[0].evidence} == {"static", "runtime"}
    assert merged[0].message == "runtime"


def test_static_findings_at_different_places_stay_apart_and_sort_by_severity():
    a = finding("repo.hardcoded-paths", "a", how="static", file="a.py", line=1)
    b = finding("repo.hardcoded-paths", "b", how="static", file="b.py", line=1)
    e = finding("loop.step-missing", "e", how="static", file="c.py", line=1)
    merged = merge_findings([a, b, e, a])
    assert [f.id for f in merged] == [
        "loop.step-missing",
        "repo.hardcoded-paths",
        "repo.hardcoded-paths",
    ]


def test_a_place_seen_statically_and_at_run_time_is_listed_once_with_both_ways():
    from dlpilot.findings import render_findings

    s = finding("loss.softmax-before-ce", "static", how="static", file="t.py", line=9)
    r = finding("loss.softmax-before-ce", "runtime", how="runtime", file="t.py", line=9, step=3)
    text = "\n".join(render_findings(merge_findings([s, r])))
    assert "t.py:9 (runtime, static)" in text
    assert text.count("t.py:9") == 1
