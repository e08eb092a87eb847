"""What a Lightning ``Trainer`` writes by itself depends on its arguments: the gitignore rule asks
only for what is written (``logger=False`` with checkpointing off writes nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpilot.tools.inspect import inspect_repo

from .._gitrepo import make_repo

HEAD = "import lightning as L\nfrom lightning.pytorch.callbacks import ModelCheckpoint\n"


def _written(tmp_path: Path, trainer_line: str, ignore: str = "") -> set[str]:
    files = {
        "README.md": "# demo\n",
        ".gitignore": ignore or "__pycache__/\n",
        "fit.py": HEAD + trainer_line + "\n",
    }
    root = make_repo(tmp_path / "r", files)
    return {
        str(f.evidence[0].detail["path"])
        for f in inspect_repo(root).by_id("repo.gitignore-artifacts")
    }


@pytest.mark.parametrize(
    ("trainer_line", "expected"),
    [
        ("trainer = L.Trainer(max_epochs=2)", {"lightning_logs/"}),
        ("trainer = L.Trainer(max_epochs=2, logger=True)", {"lightning_logs/"}),
        (
            "trainer = L.Trainer(logger=False, enable_checkpointing=False, max_epochs=2)",
            set(),
        ),
        ("trainer = L.Trainer(logger=None, enable_checkpointing=False)", set()),
        # no logger, checkpointing on: Lightning writes <root>/checkpoints/
        ("trainer = L.Trainer(logger=False, max_epochs=2)", {"checkpoints/"}),
        (
            "trainer = L.Trainer(logger=False, callbacks=[ModelCheckpoint(dirpath=out_dir)])",
            set(),
        ),
        # a logger object has its own save_dir; a named root is judged from its value
        ("trainer = L.Trainer(logger=make_logger(args), max_epochs=2)", set()),
        ("trainer = L.Trainer(default_root_dir=args.out, max_epochs=2)", set()),
        ("trainer = L.Trainer(**cfg['trainer'])", set()),
    ],
)
def test_a_lightning_trainer_is_asked_to_ignore_only_what_it_writes(
    tmp_path: Path, trainer_line: str, expected: set[str]
) -> None:
    assert _written(tmp_path, trainer_line) == expected


def test_an_ignored_lightning_logs_directory_is_not_reported(tmp_path: Path) -> None:
    line = "trainer = L.Trainer(max_epochs=2)"
    assert _written(tmp_path, line, ignore="lightning_logs/\n") == set()


def test_a_trainer_that_is_not_lightnings_writes_no_lightning_logs(tmp_path: Path) -> None:
    files = {
        "README.md": "# demo\n",
        ".gitignore": "__pycache__/\n",
        "fit.py": "from mylib import Trainer\ntrainer = Trainer(max_epochs=2)\n",
    }
    root = make_repo(tmp_path / "r", files)
    assert not inspect_repo(root).by_id("repo.gitignore-artifacts")
