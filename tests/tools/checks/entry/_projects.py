"""Tiny projects with a [tool.dlpilot] table, written into tmp_path for the entry-mode tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

TABLE = """\
[project]
name = "tiny"
version = "0.0.0"

[tool.dlpilot]
model = "tiny.model:build_model"
train_data = "tiny.data:train_dataset"
val_data = "tiny.data:val_dataset"
loss = "{loss}"
optimizer = "torch.optim:Adam"
num_classes = 3
batch_size = 32
lr = 0.01
"""

MODEL = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, features=4, classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, 32), nn.ReLU(), nn.Dropout(0.1),
                                  nn.Linear(32, classes))

    def forward(self, x):
        return self.body(x)


def build_model():
    return Net()
"""

DATA = """\
import torch
from torch.utils.data import TensorDataset


def blobs(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    x = centers[y] + 0.5 * torch.randn(n, 4, generator=g)
    return x, y


def train_dataset():
    return TensorDataset(*blobs(512, 1))


def val_dataset():
    return TensorDataset(*blobs(128, 2))
"""


def make_project(
    root: Path,
    *,
    model: str = MODEL,
    data: str = DATA,
    loss: str = "torch.nn:CrossEntropyLoss",
    table: str | None = None,
) -> Path:
    """A project in ``root``: package ``tiny`` with ``model.py`` and ``data.py``."""
    pkg = root / "tiny"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(textwrap.dedent(model))
    (pkg / "data.py").write_text(textwrap.dedent(data))
    (root / "pyproject.toml").write_text(table if table is not None else TABLE.format(loss=loss))
    return root


def data_with(body: str) -> str:
    """DATA with ``body`` (code using ``x, y`` for the training split) applied to train_dataset."""
    return DATA.replace(
        "def train_dataset():\n    return TensorDataset(*blobs(512, 1))\n",
        "def train_dataset():\n    x, y = blobs(512, 1)\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "    return TensorDataset(x, y)\n",
    )
