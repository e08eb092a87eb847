from __future__ import annotations

import shutil
import textwrap
import tomllib
from pathlib import Path

import pytest

from dlpilot.errors import ProjectError
from dlpilot.tools.checks.entry import load_entry_config, propose_entry_table, write_entry_table

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "glyph_classifier"

LIGHTNING = {
    "litproj/__init__.py": "",
    "litproj/model.py": """
        import lightning as L
        import torch.nn.functional as F
        from torch import nn, optim


        class Backbone(nn.Module):
            def __init__(self, hidden: int = 64):
                super().__init__()
                self.net = nn.Linear(28 * 28, hidden)


        class LitClassifier(L.LightningModule):
            def __init__(self, lr: float = 1e-3):
                super().__init__()
                self.backbone = Backbone()

            def training_step(self, batch, batch_idx):
                x, y = batch
                return F.cross_entropy(self.backbone(x), y)

            def configure_optimizers(self):
                return optim.SGD(self.parameters(), lr=0.1)
        """,
    "litproj/data.py": """
        from torch.utils.data import Dataset


        class DigitsDataset(Dataset):
            def __init__(self, split: str = "train"):
                self.split = split

            def __len__(self):
                return 10

            def __getitem__(self, i):
                return i, 0
        """,
    "fit.py": "print('trainer.fit')\n",
}

SCRIPT = """
    import argparse

    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    NUM_CLASSES = 4


    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, NUM_CLASSES)

        def forward(self, x):
            return self.fc(x)


    def get_train_loader(batch_size: int = 16) -> DataLoader:
        return DataLoader(TensorDataset(torch.randn(64, 8), torch.randint(0, 4, (64,))))


    def get_val_loader(batch_size: int = 16) -> DataLoader:
        return DataLoader(TensorDataset(torch.randn(16, 8), torch.randint(0, 4, (16,))))


    if __name__ == "__main__":
        p = argparse.ArgumentParser()
        p.add_argument("--learning-rate", type=float, default=0.01)
        p.add_argument("--epochs", type=int, default=3)
        p.add_argument("--verbose", action="store_true")
        args = p.parse_args()
        model = MLP()
        opt = torch.optim.RMSprop(model.parameters(), lr=args.learning_rate)
        loss_fn = nn.CrossEntropyLoss()
    """


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _table(text: str) -> dict:
    return tomllib.loads(text)["tool"]["dlpilot"]


def test_the_example_project_gets_its_factories_loss_optimizer_and_command():
    text = propose_entry_table(EXAMPLE)
    table = _table(text)
    assert table["model"] == "glyphs.model:build_model"
    assert "glyphs.model:GlyphNet" in text  # offered as another candidate
    assert table["train_data"] == "glyphs.data:train_dataset"
    assert table["val_data"] == "glyphs.data:val_dataset"
    assert table["loss"] == "torch.nn:CrossEntropyLoss"
    assert table["optimizer"] == "torch.optim:AdamW"
    assert table["num_classes"] == 10
    cmd = table["train_command"]
    assert cmd.startswith("python train.py")
    for part in ("--out {out}", "--lr {lr}", "--batch-size {batch_size}", "--epochs {epochs}"):
        assert part in cmd
    assert table["metrics"] == "{out}/metrics.jsonl"


def test_a_lightning_style_project_gets_its_module_dataset_and_functional_loss(tmp_path):
    text = propose_entry_table(_write_tree(tmp_path, LIGHTNING))
    table = _table(text)
    assert table["model"] in {"litproj.model:LitClassifier", "litproj.model:Backbone"}
    assert "litproj.model:LitClassifier" in text and "litproj.model:Backbone" in text
    assert table["train_data"] == "litproj.data:DigitsDataset"
    assert table["loss"] == "torch.nn.functional:cross_entropy"
    assert table["optimizer"] == "torch.optim:SGD"
    assert "train_command" not in table  # no train*.py
    assert "# val_data" in text


def test_a_plain_script_project_gets_loaders_and_the_argparse_command(tmp_path):
    _write_tree(tmp_path, {"train_mlp.py": SCRIPT})
    table = _table(propose_entry_table(tmp_path))
    assert table["model"] == "train_mlp:MLP"
    assert table["train_data"] == "train_mlp:get_train_loader"
    assert table["val_data"] == "train_mlp:get_val_loader"
    assert table["optimizer"] == "torch.optim:RMSprop"
    assert table["num_classes"] == 4
    assert table["train_command"] == "python train_mlp.py --learning-rate {lr} --epochs {epochs}"


def test_an_empty_project_gets_todo_lines_not_inventions(tmp_path):
    text = propose_entry_table(tmp_path)
    assert '# model = "package.module:name"  # TODO' in text
    assert "a guess" in text


def test_writing_appends_to_pyproject_and_the_table_loads(tmp_path):
    _write_tree(tmp_path, {"train_mlp.py": SCRIPT})
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    path = write_entry_table(tmp_path)
    assert path.name == "pyproject.toml"
    data = tomllib.loads(path.read_text())
    assert data["project"]["name"] == "x"
    assert load_entry_config(tmp_path).model == "train_mlp:MLP"


def test_without_a_pyproject_a_dlpilot_toml_is_created(tmp_path):
    _write_tree(tmp_path, {"train_mlp.py": SCRIPT})
    path = write_entry_table(tmp_path)
    assert path.name == "dlpilot.toml" and not (tmp_path / "pyproject.toml").exists()
    assert load_entry_config(tmp_path).optimizer == "torch.optim:RMSprop"


def test_an_existing_table_is_kept_unless_forced(tmp_path):
    project = tmp_path / "glyphs"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("runs", "__pycache__"))
    before = (project / "pyproject.toml").read_text()
    with pytest.raises(ProjectError, match="already has a dlpilot table; pass force=True"):
        write_entry_table(project)
    assert (project / "pyproject.toml").read_text() == before
    edited = before.replace(
        "num_classes = 10", "num_classes = 10\n\n[tool.dlpilot.model_kwargs]\nwidth = 4"
    )
    (project / "pyproject.toml").write_text(edited + '\n[tool.other]\nkeep = "me"\n')
    write_entry_table(project, force=True)
    after = (project / "pyproject.toml").read_text()
    data = tomllib.loads(after)
    assert data["tool"]["other"] == {"keep": "me"}
    assert data["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert "model_kwargs" not in data["tool"]["dlpilot"]
    assert after.count("[tool.dlpilot]") == 1
    assert load_entry_config(project).model == "glyphs.model:build_model"
