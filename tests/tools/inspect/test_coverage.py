from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dlpilot.findings import CATALOGUE
from dlpilot.tools.inspect._seeds import read_seed, read_seeds
from dlpilot.tools.inspect.coverage import ITEMS, SECTIONS, coverage_of

from ...conftest import REPO, SHARED

SEEDS = SHARED / "seeds"
needs_seeds = pytest.mark.skipif(
    not SEEDS.exists(), reason="shared/seeds is not beside the checkout"
)


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen", REPO / "scripts" / "gen_checklist_coverage.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_seeds
def test_the_committed_coverage_document_is_regenerated_identically() -> None:
    committed = (REPO / "docs" / "checklist-coverage.md").read_text(encoding="utf-8")
    assert _generator().render(SEEDS) == committed


@needs_seeds
def test_every_heading_and_checkbox_item_of_every_seed_is_mapped() -> None:
    items = read_seeds(SEEDS)
    assert {i.seed for i in items} == {p.name[:3] for p in SEEDS.glob("*.txt")}
    assert len([i for i in items if i.kind == "item"]) > 500
    unmapped = [(i.seed, i.text) for i in items if coverage_of(i) is None]
    assert unmapped == []


@needs_seeds
def test_every_explicit_entry_names_a_real_seed_item_or_heading() -> None:
    items = read_seeds(SEEDS)
    items_by_seed = {(i.seed, i.text) for i in items}
    headings = {(i.seed, i.text) for i in items if i.kind == "heading"}
    assert [(s, t) for s, d in ITEMS.items() for t in d if (s, t) not in items_by_seed] == []
    assert [(s, t) for s, d in SECTIONS.items() for t in d if (s, t) not in headings] == []


def test_every_mapped_id_is_in_the_catalogue_and_every_human_entry_has_a_reason() -> None:
    for table in (ITEMS, SECTIONS):
        for entries in table.values():
            for text, cov in entries.items():
                assert set(cov.ids) <= set(CATALOGUE), text
                assert cov.ids or cov.human, text


def test_seed_reading_finds_markdown_headings_checkboxes_and_skips_code(tmp_path: Path) -> None:
    p = tmp_path / "007_x.txt"
    p.write_text(
        "# Top\n## Part\n- [ ] one\n  - [ ] nested\n1. [ ] numbered\n```python\n# not a heading\n"
        "- [ ] not an item\n```\n",
        encoding="utf-8",
    )
    got = [(i.kind, i.text, i.parents) for i in read_seed(p)]
    assert got == [
        ("heading", "Top", ()),
        ("heading", "Part", ("Top",)),
        ("item", "one", ("Top", "Part")),
        ("item", "nested", ("Top", "Part")),
        ("item", "numbered", ("Top", "Part")),
    ]


def test_seed_reading_understands_plain_text_pages(tmp_path: Path) -> None:
    p = tmp_path / "008_y.txt"
    p.write_text("Phase 1: Data (Items 1--2)\n\n1. Splits\n\n  • [ ] No leakage\n# Batch: 4\n")
    got = [(i.kind, i.text) for i in read_seed(p)]
    assert got == [
        ("heading", "Phase 1: Data (Items 1--2)"),
        ("heading", "1. Splits"),
        ("item", "No leakage"),
    ]
