"""The static pass reads framework-style training code like a plain loop: inside a
LightningModule's ``training_step`` / ``validation_step`` / ``forward`` the bugs of a plain loop are
found, and nothing Lightning (or an accelerate-style helper, an HF-style ``model(**batch)``, a
trainer class with EMA and a teacher) does on the user's behalf is reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlpilot.tools.inspect import inspect_repo

from ...checks._framework_programs import BUGGY_LIGHTNING, CORRECT, FRAMEWORKS, lightning_twin

BUG_PREFIXES = ("loop.", "mode.", "loss.", "lr.", "data.", "grad.", "act.", "amp.", "param.")
"""Findings that say the training code is wrong (not the project's setup or hygiene)."""


def _bug_ids(root: Path) -> set[str]:
    return {f.id for f in inspect_repo(root).findings if f.id.startswith(BUG_PREFIXES)}


@pytest.mark.parametrize("program", CORRECT)
def test_a_correct_framework_style_program_has_no_static_bug_finding(
    program: str, tmp_path: Path
) -> None:
    shutil.copy(FRAMEWORKS / program, tmp_path / "train.py")
    assert _bug_ids(tmp_path) == set()


@pytest.mark.parametrize("name", sorted(BUGGY_LIGHTNING))
def test_a_bug_inside_a_lightning_module_is_found_statically(name: str, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(lightning_twin(name))
    assert _bug_ids(tmp_path) == BUGGY_LIGHTNING[name][1]


def test_a_scheduler_stepped_every_epochs_worth_of_batches_is_not_a_per_batch_mismatch(
    tmp_path: Path,
) -> None:
    source = lightning_twin("epoch_scheduler_stepped_per_batch").replace(
        '"interval": "step"', '"interval": "step", "frequency": len(self.trainer.train_dataloader)'
    )
    (tmp_path / "train.py").write_text(source)
    assert _bug_ids(tmp_path) == set()
