"""data.augment-on-eval from a dataset's own augmentation switch (code/setup/_augflags.py)."""

from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import hits, ids

DATASET = """
import torch
from torch.utils.data import Dataset

class SignalDataset(Dataset):
    def __init__(self, x, y, augment=True, noise=0.1):
        self.x, self.y = x, y
        self.augment = augment
        self.noise = noise

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i]
        if self.augment:
            x = x + self.noise * torch.randn_like(x)
            x = torch.roll(x, int(torch.randint(-5, 5, (1,))))
        return x, self.y[i]
"""


def _project(train: str) -> dict[str, str]:
    return {"data.py": DATASET, "train.py": "from data import SignalDataset\n" + train}


def test_an_evaluation_split_built_with_the_augment_default_is_reported():
    for built in [
        "val_ds = SignalDataset(xv, yv)\n",
        "test_set = SignalDataset(xt, yt, augment=True)\n",
        "val_loader = DataLoader(SignalDataset(xv, yv), batch_size=64)\n",
    ]:
        assert hits(_project(built), "data.augment-on-eval") == [("train.py", 2)], built


def test_an_evaluation_split_with_augmentation_turned_off_is_fine():
    for built in [
        "train_ds = SignalDataset(x, y)\nval_ds = SignalDataset(xv, yv, augment=False)\n",
        "val_ds = SignalDataset(xv, yv, False)\n",
        "val_ds = SignalDataset(xv, yv, augment=not is_eval)\n",
        "val_ds = SignalDataset(xv, yv, **cfg)\n",
    ]:
        assert "data.augment-on-eval" not in ids(_project(built)), built


def test_a_flag_that_defaults_off_or_guards_nothing_random_is_fine():
    off = DATASET.replace("augment=True", "augment=False")
    plain = DATASET.replace(
        "            x = x + self.noise * torch.randn_like(x)\n"
        "            x = torch.roll(x, int(torch.randint(-5, 5, (1,))))\n",
        "            x = x / 255.0\n",
    )
    for ds in (off, plain):
        files = {"data.py": ds, "train.py": "val_ds = SignalDataset(xv, yv)\n"}
        assert "data.augment-on-eval" not in ids(files)


TUPLE_STORED = """
import torch
from torch.utils.data import Dataset

class Windows(Dataset):
    def __init__(self, x, y, augment=True):
        self.x, self.y, self.augment = x, y, augment

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i]
        if self.augment:
            x = torch.roll(x, int(torch.randint(-3, 4, ())), dims=-1)
        return x, self.y[i]
"""

TRAIN_FLAG = """
import torch
from torch.utils.data import Dataset

class Masked(Dataset):
    def __init__(self, n, train=True, mask_p=0.15):
        self.x = torch.randn(n, 16)
        self.train = train
        self.mask_p = mask_p

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i].clone()
        if self.train:
            x[torch.rand(16) < self.mask_p] = 0.0
        return x
"""


def test_a_flag_stored_in_a_tuple_assignment_is_followed_into_a_loader_helper():
    train = (
        "from data import Windows\n"
        "from torch.utils.data import DataLoader\n"
        "def make_loaders(x, y):\n"
        "    train_set = Windows(x[:200], y[:200])\n"
        "    val_set = Windows(x[200:], y[200:])\n"
        "    return DataLoader(train_set, shuffle=True), DataLoader(val_set)\n"
    )
    project = {"data.py": TUPLE_STORED, "train.py": train}
    assert hits(project, "data.augment-on-eval") == [("train.py", 5)]
    fixed = train.replace("y[200:])", "y[200:], augment=False)")
    assert hits({"data.py": TUPLE_STORED, "train.py": fixed}, "data.augment-on-eval") == []


def test_a_train_flag_that_switches_random_masking_on_is_an_augmentation_flag():
    head = "from data import Masked\nfrom torch.utils.data import DataLoader\n"
    train = head + "valid_set = Masked(50)\ntrain_set = Masked(200)\n"
    assert hits({"data.py": TRAIN_FLAG, "train.py": train}, "data.augment-on-eval") == [
        ("train.py", 3)
    ]
    fixed = head + "valid_set = Masked(50, train=False)\n"
    assert hits({"data.py": TRAIN_FLAG, "train.py": fixed}, "data.augment-on-eval") == []


def test_a_train_flag_that_guards_nothing_random_is_not_an_augmentation_flag():
    plain = TRAIN_FLAG.replace("x[torch.rand(16) < self.mask_p] = 0.0", "x = x * 2")
    train = (
        "from data import Masked\nfrom torch.utils.data import DataLoader\nvalid_set = Masked(50)\n"
    )
    assert hits({"data.py": plain, "train.py": train}, "data.augment-on-eval") == []


def _noisy(guard: str, change: str = "x = x + 0.1 * torch.randn_like(x)", extra: str = "") -> str:
    """A dataset whose ``augment`` switch guards ``change`` the way ``guard`` spells it."""
    return (
        "import random\nimport torch\nfrom torch.utils.data import Dataset\n\n"
        "def jitter(x):\n    return x + 0.05 * torch.randn_like(x)\n\n"
        "class Frames(Dataset):\n"
        "    def __init__(self, x, y, augment: bool = True):\n"
        "        self.x, self.y = x, y\n"
        "        self.augment = augment\n"
        f"{extra}"
        "    def __len__(self):\n        return len(self.x)\n\n"
        "    def _shift(self, x):\n        return torch.roll(x, random.randint(-2, 2))\n\n"
        "    def __getitem__(self, i):\n"
        "        x = self.x[i]\n"
        f"{guard.format(change=change)}"
        "        return x, self.y[i]\n"
    )


HEAD = "from data import Frames\nfrom torch.utils.data import DataLoader\n"

GUARDS = {
    "and-coin": (
        "        if self.augment and random.random() < 0.5:\n            x = torch.flip(x, (0,))\n"
    ),
    "ifexp": "        x = jitter(x) if self.augment else x\n",
    "alias": "        aug = self.augment\n        if aug:\n            {change}\n",
    "method": "        if self.augment:\n            x = self._shift(x)\n",
    "function": "        if self.augment:\n            x = jitter(x)\n",
}

TRAINER = """
from data import Frames
from torch.utils.data import DataLoader

class Trainer:
    def __init__(self, x, y, xv, yv):
        self.train_loader = self.make_loader(x, y, shuffle=True)
        self.val_loader = self.make_loader(xv, yv, shuffle=False)

    def make_loader(self, x, y, shuffle):
        return DataLoader(Frames(x, y), batch_size=32, shuffle=shuffle)
"""


def test_the_switch_is_followed_through_and_conditions_aliases_and_helpers():
    for name, guard in GUARDS.items():
        data = _noisy(guard)
        train = HEAD + "val_set = Frames(xv, yv)\n"
        assert hits({"data.py": data, "train.py": train}, "data.augment-on-eval") == [
            ("train.py", 3)
        ], name
        fixed = train.replace("yv)", "yv, augment=False)")
        assert hits({"data.py": data, "train.py": fixed}, "data.augment-on-eval") == [], name


def test_a_random_transform_stored_by_the_constructor_counts_as_randomness():
    extra = "        self.tf = T.Compose([T.RandomCrop(28), T.RandomHorizontalFlip()])\n"
    data = _noisy("        if self.augment:\n            x = self.tf(x)\n", extra=extra)
    train = HEAD + "valid_ds = Frames(xv, yv)\n"
    assert hits({"data.py": data, "train.py": train}, "data.augment-on-eval") == [("train.py", 3)]
    plain = data.replace("T.RandomCrop(28), T.RandomHorizontalFlip()", "T.CenterCrop(28)")
    assert hits({"data.py": plain, "train.py": train}, "data.augment-on-eval") == []


def test_a_negated_switch_does_not_guard_augmentation():
    data = _noisy("        if not self.augment:\n            x = jitter(x)\n")
    train = HEAD + "val_set = Frames(xv, yv)\n"
    assert hits({"data.py": data, "train.py": train}, "data.augment-on-eval") == []


def test_evaluation_splits_built_in_a_tuple_a_dict_or_a_loader_keyword_are_followed():
    data = _noisy(GUARDS["function"])
    for built in [
        "train_set, val_set = Frames(x, y), Frames(xv, yv)\n",
        'sets = {"train": Frames(x, y), "val": Frames(xv, yv)}\n',
        "self.val_loader: DataLoader = DataLoader(dataset=Frames(xv, yv), batch_size=8)\n",
    ]:
        train = "from data import Frames\nfrom torch.utils.data import DataLoader\n" + built
        assert hits({"data.py": data, "train.py": train}, "data.augment-on-eval") == [
            ("train.py", 3)
        ], built
        fixed = train.replace("Frames(xv, yv)", "Frames(xv, yv, augment=False)")
        assert hits({"data.py": data, "train.py": fixed}, "data.augment-on-eval") == [], built


def test_a_loader_method_of_a_trainer_that_builds_the_dataset_is_followed():
    data = _noisy(GUARDS["function"])
    found = hits({"data.py": data, "train.py": TRAINER}, "data.augment-on-eval")
    assert found == [("train.py", 8)]
    passes = (
        TRAINER.replace("y, shuffle):", "y, shuffle, augment):")
        .replace("Frames(x, y)", "Frames(x, y, augment=augment)")
        .replace("shuffle=True)", "shuffle=True, augment=True)")
        .replace("shuffle=False)", "shuffle=False, augment=False)")
    )
    assert hits({"data.py": data, "train.py": passes}, "data.augment-on-eval") == []


def test_a_factory_that_chooses_the_flag_per_split_is_fine():
    data = _noisy(GUARDS["function"])
    train = (
        "from data import Frames\nfrom torch.utils.data import DataLoader\n"
        "def get_dataset(split, x, y):\n"
        "    if split == 'train':\n"
        "        return Frames(x, y)\n"
        "    return Frames(x, y, augment=False)\n"
        "val_ds = get_dataset('val', xv, yv)\n"
        "ok = cfg.get('val_split')\n"
    )
    assert hits({"data.py": data, "train.py": train}, "data.augment-on-eval") == []


def test_a_loader_factory_in_another_module_is_followed():
    data = _noisy(GUARDS["function"])
    loaders = (
        "from torch.utils.data import DataLoader\nfrom data import Frames\n\n"
        "def make_loader(x, y, shuffle=False):\n"
        "    return DataLoader(Frames(x, y), batch_size=32, shuffle=shuffle)\n"
    )
    train = "from loaders import make_loader\nval_loader = make_loader(xv, yv)\n"
    files = {"data.py": data, "loaders.py": loaders, "train.py": train}
    assert hits(files, "data.augment-on-eval") == [("train.py", 2)]
    files["loaders.py"] = loaders.replace("Frames(x, y)", "Frames(x, y, augment=shuffle)")
    assert hits(files, "data.augment-on-eval") == []


def test_two_switches_that_call_one_random_helper_are_both_followed():
    data = _noisy(
        "        if self.augment:\n            x = self._shift(x)\n"
        "        if self.train:\n            x = self._shift(x)\n",
    ).replace("augment: bool = True)", "augment: bool = True, train=True)")
    data = data.replace(
        "self.augment = augment\n", "self.augment = augment\n        self.train = train\n"
    )
    train = HEAD + "val_set = Frames(xv, yv, augment=False)\n"
    assert hits({"data.py": data, "train.py": train}, "data.augment-on-eval") == [("train.py", 3)]
    both_off = HEAD + "val_set = Frames(xv, yv, augment=False, train=False)\n"
    assert hits({"data.py": data, "train.py": both_off}, "data.augment-on-eval") == []
