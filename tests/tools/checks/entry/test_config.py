from __future__ import annotations

from pathlib import Path

import pytest

from dlpilot.errors import ProjectError
from dlpilot.tools.checks.entry import EntryConfig, load_entry_config

from ._projects import make_project

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "glyph_classifier"


def _write(root: Path, table: str, name: str = "pyproject.toml") -> Path:
    (root / name).write_text(table)
    return root


def test_the_example_projects_table_loads_with_defaults():
    cfg = load_entry_config(EXAMPLE)
    assert isinstance(cfg, EntryConfig)
    assert cfg.model == "glyphs.model:build_model"
    assert cfg.val_data == "glyphs.data:val_dataset"
    assert cfg.num_classes == 10
    assert cfg.metrics == ["{out}/metrics.jsonl"]
    assert cfg.batch_size == 32 and cfg.lr == 1e-3
    assert cfg.project_dir == EXAMPLE.resolve()
    assert cfg.source.name == "pyproject.toml"


def test_kwargs_tables_are_read(tmp_path):
    make_project(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text()
    _write(tmp_path, text + "\n[tool.dlpilot.model_kwargs]\nwidth = 8\n")
    assert load_entry_config(tmp_path).model_kwargs == {"width": 8}


def test_an_unknown_key_is_refused_with_the_accepted_keys(tmp_path):
    make_project(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text()
    _write(tmp_path, text.replace("lr = 0.01", "lr = 0.01\nlearning_rate = 0.1"))
    with pytest.raises(ProjectError, match=r"unknown key\(s\) 'learning_rate'.*accepted keys are"):
        load_entry_config(tmp_path)


@pytest.mark.parametrize("bad", ["tiny.model.build_model", "tiny/model.py:build", ":x", "a:1b"])
def test_a_malformed_factory_reference_names_the_key_and_value(tmp_path, bad):
    make_project(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text()
    _write(tmp_path, text.replace('"tiny.model:build_model"', f'"{bad}"'))
    with pytest.raises(ProjectError, match=r"model = .*is not a \"module:attr\" reference") as err:
        load_entry_config(tmp_path)
    assert repr(bad) in str(err.value)


def test_a_missing_required_key_and_a_bad_value_are_named(tmp_path):
    _write(tmp_path, '[tool.dlpilot]\nmodel = "m:f"\ntrain_data = "m:d"\nloss = "m:l"\n')
    with pytest.raises(ProjectError, match="missing required key 'optimizer'"):
        load_entry_config(tmp_path)
    _write(
        tmp_path,
        '[tool.dlpilot]\nmodel = "m:f"\ntrain_data = "m:d"\nloss = "m:l"\noptimizer = "m:o"\n'
        "batch_size = 0\n",
    )
    with pytest.raises(ProjectError, match="batch_size = 0"):
        load_entry_config(tmp_path)


def test_a_kwargs_key_that_is_not_a_table_is_refused(tmp_path):
    make_project(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text()
    _write(tmp_path, text.replace("lr = 0.01", "lr = 0.01\nmodel_kwargs = 3"))
    with pytest.raises(ProjectError, match="model_kwargs = 3 must be a table"):
        load_entry_config(tmp_path)


def test_a_dlpilot_toml_works_with_top_level_keys(tmp_path):
    _write(
        tmp_path,
        'model = "m:f"\ntrain_data = "m:d"\nloss = "torch.nn:MSELoss"\n'
        'optimizer = "torch.optim:SGD"\n',
        "dlpilot.toml",
    )
    cfg = load_entry_config(tmp_path)
    assert cfg.loss == "torch.nn:MSELoss" and cfg.source.name == "dlpilot.toml"


def test_two_tables_are_refused_and_no_table_says_how_to_make_one(tmp_path):
    with pytest.raises(ProjectError, match="dlpilot init"):
        load_entry_config(tmp_path)
    make_project(tmp_path)
    _write(tmp_path, 'model = "m:f"\n', "dlpilot.toml")
    with pytest.raises(ProjectError, match="keep one of them"):
        load_entry_config(tmp_path)


def test_a_missing_directory_and_broken_toml_are_project_errors(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_entry_config(tmp_path / "nope")
    _write(tmp_path, "[tool.dlpilot\n")
    with pytest.raises(ProjectError, match="cannot read"):
        load_entry_config(tmp_path)
