from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLE = REPO / "examples" / "glyph_classifier"
PYTHON = sys.executable


@pytest.fixture
def repo_root() -> Path:
    return REPO
