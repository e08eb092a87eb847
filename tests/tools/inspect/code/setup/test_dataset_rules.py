"""data.labels-misaligned and loader factories (code/setup/_datasets.py, _factories.py)."""

from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import hits, ids


def test_inputs_and_labels_permuted_apart_are_reported():
    cases = [
        "x = x[torch.randperm(n)]\ny = y[torch.randperm(n)]\n",
        "p1 = torch.randperm(n)\np2 = torch.randperm(n)\nx = x[p1]\ny = y[p2]\n",
        "np.random.shuffle(x)\nnp.random.shuffle(y)\n",
        "x = np.sort(x, axis=0)\n",
        "x = x[np.random.permutation(len(x))]\n",
    ]
    for case in cases:
        src = "import numpy as np, torch\n" + case + "ds = TensorDataset(x, y)\n"
        assert "data.labels-misaligned" in ids({"prep.py": src}), case


def test_misalignment_inside_a_loader_function_is_reported_at_the_reordering():
    src = """
import random
def load(path):
    images, labels = read(path)
    random.shuffle(images)
    random.shuffle(labels)
    return list(zip(images, labels))
"""
    assert hits({"prep.py": src}, "data.labels-misaligned") == [("prep.py", 6)]


def test_inputs_and_labels_reordered_together_are_fine():
    cases = [
        "perm = torch.randperm(n)\nx = x[perm]\ny = y[perm]\n",
        "perm = torch.randperm(n)\nx, y = x[perm], y[perm]\n",
        "idx = np.argsort(lengths)\nx = x[idx]\ny = y[idx]\n",
        "perm = np.random.permutation(n)\ntr = perm[:800]\nx_train = x[tr]\ny_train = y[tr]\n"
        "x, y = x_train, y_train\n",
        "perm = torch.randperm(n)\nx = x[perm][:800]\ny = y[perm][:800]\n",
        "np.random.seed(0)\nnp.random.shuffle(x)\nnp.random.seed(0)\nnp.random.shuffle(y)\n",
        "classes = sorted(classes)\n",
        "x = x[torch.randperm(n)]\n",  # pure noise inputs, never paired with labels below
    ]
    for case in cases[:-1]:
        src = "import numpy as np, torch\n" + case + "ds = TensorDataset(x, y)\n"
        assert "data.labels-misaligned" not in ids({"prep.py": src}), case
    alone = "import torch\n" + cases[-1] + "noise_ds = TensorDataset(x)\n"
    assert "data.labels-misaligned" not in ids({"prep.py": alone})


FACTORY = """
from torch.utils.data import DataLoader

def make_loader(ds, batch_size=32, train=False):
    return DataLoader(ds, batch_size=batch_size, shuffle={shuffle}, drop_last=train)
"""


def test_a_loader_factory_that_inverts_its_train_flag_is_reported_at_the_training_call():
    for shuffle in ["not train", "False if train else True"]:
        files = {
            "data.py": FACTORY.format(shuffle=shuffle),
            "train.py": "from data import make_loader\n"
            "train_loader = make_loader(train_ds, train=True)\n"
            "val_loader = make_loader(val_ds, train=False)\n",
        }
        assert hits(files, "data.train-not-shuffled") == [("train.py", 2)], shuffle


def test_a_loader_factory_that_shuffles_by_its_train_flag_is_fine():
    files = {
        "data.py": FACTORY.format(shuffle="train"),
        "train.py": "from data import make_loader\n"
        "train_loader = make_loader(train_ds, train=True)\n",
    }
    assert "data.train-not-shuffled" not in ids(files)


PER_ARRAY = """
import torch

def shuffled(*arrays):
    return tuple(a[torch.randperm(len(a))] for a in arrays)

def shuffle_all(arrays):
    out = []
    for a in arrays:
        out.append(a[torch.randperm(a.shape[0])])
    return out
"""


def test_a_helper_that_draws_a_permutation_per_array_is_reported_where_it_gets_both():
    for call in [
        "x_train, y_train = shuffled(x_train, y_train)\n",
        "x, labels = shuffle_all([x, labels])\n",
    ]:
        train = "from utils import shuffled, shuffle_all\n" + call
        assert hits({"utils.py": PER_ARRAY, "train.py": train}, "data.labels-misaligned") == [
            ("train.py", 2)
        ], call


def test_one_permutation_shared_by_the_arrays_or_one_array_per_call_is_fine():
    shared = PER_ARRAY.replace(
        "return tuple(a[torch.randperm(len(a))] for a in arrays)",
        "perm = torch.randperm(len(arrays[0]))\n    return tuple(a[perm] for a in arrays)",
    )
    train = "from utils import shuffled\nx_train, y_train = shuffled(x_train, y_train)\n"
    assert hits({"utils.py": shared, "train.py": train}, "data.labels-misaligned") == []
    alone = "from utils import shuffled\nnoise = shuffled(noise)\n(x,) = shuffled(x)\n"
    assert hits({"utils.py": PER_ARRAY, "train.py": alone}, "data.labels-misaligned") == []
    seeded = PER_ARRAY.replace(
        "a[torch.randperm(len(a))]",
        "a[torch.randperm(len(a), generator=torch.Generator().manual_seed(0))]",
    )
    train = "from utils import shuffled\nx, y = shuffled(x, y)\n"
    assert hits({"utils.py": seeded, "train.py": train}, "data.labels-misaligned") == []


def test_a_loop_over_inputs_and_labels_that_permutes_each_is_reported():
    src = "import torch\nx, y = (t[torch.randperm(len(t))] for t in (x, y))\n"
    assert hits({"prep.py": src}, "data.labels-misaligned") == [("prep.py", 2)]
    # a training loop that permutes features within each batch walks one array's rows
    fit = (
        "import torch\n"
        "def fit(model, batches, y):\n"
        "    for xb in batches:\n"
        "        xb = xb[:, torch.randperm(xb.shape[1])]\n"
        "fit(model, x_batches, y)\n"
    )
    assert hits({"fit.py": fit}, "data.labels-misaligned") == []


def test_per_array_draws_bound_to_a_name_or_made_by_numpy_are_followed():
    helpers = [
        "def mix(*arrays):\n    out = []\n    for a in arrays:\n"
        "        idx = torch.randperm(len(a))\n        out.append(a[idx])\n    return out\n",
        "def mix(*arrays):\n    return [rng.permutation(a) for a in arrays]\n",
        "def mix(*arrays):\n    for a in arrays:\n        np.random.shuffle(a)\n"
        "    return arrays\n",
    ]
    train = "from utils import mix\nxs, ys = mix(xs, ys)\n"
    for helper in helpers:
        utils = "import numpy as np, torch\nrng = np.random.default_rng(0)\n" + helper
        assert hits({"utils.py": utils, "train.py": train}, "data.labels-misaligned") == [
            ("train.py", 2)
        ], helper
        shared = utils.replace("for a in arrays:", "for a in arrays[:1]:")
        once = "from utils import mix\nxs = mix(xs)\n"
        assert hits({"utils.py": shared, "train.py": once}, "data.labels-misaligned") == []


def test_a_per_array_helper_is_followed_through_a_module_import_and_in_its_own_file():
    train = "import utils\nxs, labels = utils.shuffled(xs, labels)\n"
    assert hits({"utils.py": PER_ARRAY, "train.py": train}, "data.labels-misaligned") == [
        ("train.py", 2)
    ]
    same = PER_ARRAY + "x, y = shuffled(x, y)\n"
    found = hits({"utils.py": same}, "data.labels-misaligned")
    assert found == [("utils.py", same.count("\n"))]
