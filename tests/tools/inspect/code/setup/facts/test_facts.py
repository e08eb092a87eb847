"""The single walk that gathers the setup facts: gates, one collector per topic, the memo."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from dlpilot.tools.inspect._base import SourceFile
from dlpilot.tools.inspect.code.setup.facts import SIGNALS, facts_for
from dlpilot.tools.inspect.code.setup.facts._gates import needs


def _file(rel: str, src: str) -> SourceFile:
    text = textwrap.dedent(src)
    return SourceFile(rel=rel, path=Path(rel), text=text, tree=ast.parse(text))


TRAINING = """
import torch
from torch.utils.data import DataLoader, random_split

data = torch.load("/home/alice/data/all.pt")
mean = data.mean(dim=0)
train_set, val_set = random_split(data, [0.8, 0.2])
train_loader = DataLoader(train_set, batch_size=32)
val_loader = DataLoader(val_set, batch_size=32)

for epoch in range(10):
    for x, y in train_loader:
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), f"model_{epoch}.pt")
"""


def test_facts_are_gathered_once_per_file_and_kept_on_it() -> None:
    f = _file("train.py", TRAINING)
    first = facts_for(f)
    assert facts_for(f) is first
    other = _file("train.py", TRAINING)
    assert facts_for(other) is not first
    assert facts_for(other) == first


def test_each_topic_of_one_training_script_lands_in_its_own_facts() -> None:
    facts = facts_for(_file("train.py", TRAINING))
    assert facts.train_line == 15  # loss.backward() in a loop with opt.step()
    assert [(line, why) for line, _, why in facts.shuffle_issues] == [
        (8, "no shuffle=True and no sampler")
    ]
    assert facts.leak_issues == [(6, "data", 7)]  # the mean taken before the split
    assert facts.path_issues == [(5, "/home/alice/data/all.pt")]
    assert facts.ckpt_partial == [(17, ["model", "progress"], ["optimizer"])]
    assert facts.augment_issues == []
    assert facts.overlap_issues == []


def test_a_test_file_gets_no_facts_and_no_signals() -> None:
    facts = facts_for(_file("tests/test_train.py", TRAINING))
    assert facts.is_test
    assert facts.train_line is None
    assert facts.shuffle_issues == [] and facts.path_issues == []
    assert not facts.signal("save")


def test_text_that_no_setup_rule_reads_needs_no_walk() -> None:
    assert not needs("def add(a, b):\n    return a + b\n").any()
    gate = needs(TRAINING)
    assert gate.training and gate.loaders and gate.saves and gate.leak and gate.paths
    assert not gate.augment


def test_a_randomly_augmented_dataset_split_into_training_and_held_out_parts_is_reported() -> None:
    src = """
    from torchvision import transforms, datasets
    from torch.utils.data import random_split
    train_tf = transforms.Compose([transforms.RandomCrop(32), transforms.ToTensor()])
    full = datasets.ImageFolder("data", transform=train_tf)
    train_ds, val_ds = random_split(full, [0.9, 0.1])
    """
    facts = facts_for(_file("data.py", src))
    assert facts.augment_issues == [
        (6, "full has a random transform and is split: the held-out part keeps it")
    ]


def test_a_large_file_is_walked_only_where_its_lines_show_a_hint() -> None:
    filler = "".join(f"def helper_{i}(a, b):\n    return a * {i} + b\n\n" for i in range(1200))
    src = (
        "from torch.utils.data import DataLoader\n"
        + filler
        + "class Data:\n"
        + "    def loaders(self):\n"
        + "        self.train_loader = DataLoader(self.train_set, batch_size=8)\n"
    )
    assert len(src) > 30_000
    f = SourceFile(rel="big.py", path=Path("big.py"), text=src, tree=ast.parse(src))
    line = src.count("\n")
    assert [(ln, what) for ln, what, _ in facts_for(f).shuffle_issues] == [(line, "train_loader")]


def test_a_project_signal_is_searched_in_the_text_and_remembered() -> None:
    facts = facts_for(_file("train.py", TRAINING))
    assert "seed" in SIGNALS
    assert not facts.signal("seed")
    assert facts.signal("save")
    facts.release_text()
    assert facts.signal("save")  # answered from the memo, the text is gone
