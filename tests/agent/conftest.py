from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project (examples/glyph_classifier), without runs or state."""
    dest = tmp_path / "glyph_classifier"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("runs", ".dlpilot", "__pycache__"))
    return dest
