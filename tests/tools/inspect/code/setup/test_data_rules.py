from __future__ import annotations

from tests.tools.inspect.code.setup._helpers import hits

# --- data.train-not-shuffled ---------------------------------------------------------------


def test_a_training_loader_without_shuffle_is_reported() -> None:
    src = """
    from torch.utils.data import DataLoader
    train_loader = DataLoader(train_ds, batch_size=32)
    val_loader = DataLoader(val_ds, batch_size=32)
    """
    assert hits({"data.py": src}, "data.train-not-shuffled") == [("data.py", 3)]


def test_a_training_loader_with_shuffle_false_is_reported() -> None:
    src = """
    import torch
    loader = torch.utils.data.DataLoader(train_set, batch_size=8, shuffle=False)
    """
    assert hits({"data.py": src}, "data.train-not-shuffled") == [("data.py", 3)]


def test_a_lightning_train_dataloader_method_without_shuffle_is_reported() -> None:
    src = """
    class DM(L.LightningDataModule):
        def train_dataloader(self):
            return DataLoader(self.ds_a, batch_size=32)
    """
    assert hits({"dm.py": src}, "data.train-not-shuffled") == [("dm.py", 4)]


def test_shuffled_sampled_and_validation_loaders_are_fine() -> None:
    src = """
    from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
    train_loader = DataLoader(train_ds, batch_size=32, shuffle=True)
    train_loader2 = DataLoader(train_ds, batch_size=32, sampler=DistributedSampler(train_ds))
    train_loader3 = DataLoader(train_ds, sampler=RandomSampler(train_ds))
    train_loader4 = DataLoader(train_ds, batch_sampler=bucket_sampler)
    train_loader5 = DataLoader(train_ds, shuffle=args.shuffle)
    train_loader6 = DataLoader(train_ds, **loader_kwargs)
    val_loader = DataLoader(val_ds, batch_size=32, shuffle=False)
    test_loader = DataLoader(test_ds, batch_size=32)
    loader = DataLoader(ds, batch_size=32)
    """
    assert hits({"data.py": src}, "data.train-not-shuffled") == []


def test_iterable_datasets_are_not_asked_to_shuffle() -> None:
    src = """
    class Stream(IterableDataset):
        def __iter__(self):
            yield from range(10)
    train_loader = DataLoader(Stream(), batch_size=32)
    """
    assert hits({"data.py": src}, "data.train-not-shuffled") == []


# --- data.split-overlap --------------------------------------------------------------------


def test_train_and_validation_loaders_on_the_same_dataset_overlap() -> None:
    src = """
    def loaders(dataset):
        train_loader = DataLoader(dataset, batch_size=32, shuffle=True)
        val_loader = DataLoader(dataset, batch_size=32)
        return train_loader, val_loader
    """
    assert hits({"data.py": src}, "data.split-overlap") == [("data.py", 4)]


def test_loaders_on_one_dataset_with_subset_samplers_do_not_overlap() -> None:
    src = """
    def loaders(dataset, train_idx, val_idx):
        train_loader = DataLoader(dataset, sampler=SubsetRandomSampler(train_idx))
        val_loader = DataLoader(dataset, sampler=SubsetRandomSampler(val_idx))
        return train_loader, val_loader
    """
    assert hits({"data.py": src}, "data.split-overlap") == []


def test_validation_slice_taken_from_the_start_like_the_training_slice_overlaps() -> None:
    src = """
    idx = np.random.permutation(n)
    train_idx = idx[:800]
    val_idx = idx[:200]
    """
    assert hits({"data.py": src}, "data.split-overlap") == [("data.py", 4)]


def test_adjacent_slices_do_not_overlap() -> None:
    src = """
    n_train = int(0.8 * len(X))
    X_train, X_val = X[:n_train], X[n_train:]
    y_train = y[:n_train]
    y_val = y[n_train:]
    x_test = X[-100:]
    x_train2 = X[:-100]
    a_train, a_val = A[0:800], A[800:1000]
    """
    assert hits({"data.py": src}, "data.split-overlap") == []


def test_literal_slices_that_intersect_overlap() -> None:
    src = """
    x_train = data[0:800]
    x_val = data[700:1000]
    """
    assert hits({"data.py": src}, "data.split-overlap") == [("data.py", 3)]


def test_a_validation_set_that_is_the_training_set_overlaps() -> None:
    src = """
    val_dataset = train_dataset
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=train_ds)
    trainer.fit(model, loader, loader)
    """
    assert hits({"t.py": src}, "data.split-overlap") == [("t.py", 2), ("t.py", 3), ("t.py", 4)]


def test_a_test_set_built_exactly_like_the_training_set_overlaps() -> None:
    src = """
    trainset = torchvision.datasets.CIFAR10(root="./data", train=True, transform=train_tf)
    testset = torchvision.datasets.CIFAR10(root="./data", train=True, transform=test_tf)
    """
    assert hits({"d.py": src}, "data.split-overlap") == [("d.py", 3)]


def test_datasets_built_for_different_splits_do_not_overlap() -> None:
    src = """
    trainset = torchvision.datasets.CIFAR10(root="./data", train=True, transform=train_tf)
    testset = torchvision.datasets.CIFAR10(root="./data", train=False, transform=test_tf)
    train_ds = load_dataset("imdb", split="train")
    eval_ds = load_dataset("imdb", split="test")
    trainer = Trainer(model=model, train_dataset=ds["train"], eval_dataset=ds["test"])
    train_fake = FakeDataset(100)
    val_fake = FakeDataset(100)
    """
    assert hits({"d.py": src}, "data.split-overlap") == []


# --- data.augment-on-eval ------------------------------------------------------------------


def test_random_ops_in_a_validation_transform_are_reported() -> None:
    src = """
    val_transform = transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()])
    """
    assert hits({"d.py": src}, "data.augment-on-eval") == [("d.py", 2)]


def test_a_random_transform_shared_with_the_test_set_is_reported() -> None:
    src = """
    transform = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    trainset = torchvision.datasets.CIFAR10(root="./data", train=True, transform=transform)
    testset = torchvision.datasets.CIFAR10(root="./data", train=False, transform=transform)
    """
    assert hits({"d.py": src}, "data.augment-on-eval") == [("d.py", 4)]


def test_a_training_transform_passed_to_a_validation_folder_is_reported() -> None:
    src = """
    val_ds = datasets.ImageFolder(os.path.join(root, "val"), train_transforms)
    """
    assert hits({"d.py": src}, "data.augment-on-eval") == [("d.py", 2)]


def test_splitting_a_dataset_that_has_random_augmentation_is_reported() -> None:
    src = """
    def build(root):
        tf = T.Compose([T.RandomCrop(32, padding=4), T.ToTensor()])
        full = ImageFolder(root, transform=tf)
        train_ds, val_ds = random_split(full, [0.9, 0.1])
        return train_ds, val_ds
    """
    assert hits({"d.py": src}, "data.augment-on-eval") == [("d.py", 5)]


def test_augmentation_only_on_training_data_is_fine() -> None:
    src = """
    data_transforms = {
        "train": transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()]),
        "val": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)]),
    }
    image_datasets = {x: datasets.ImageFolder(os.path.join(d, x), data_transforms[x])
                      for x in ["train", "val"]}
    train_tf = A.Compose([A.HorizontalFlip(p=0.5), A.Normalize()])
    val_tf = A.Compose([A.Normalize()])
    train_set = MyDataset(train_files, transform=train_tf)
    val_set = MyDataset(val_files, transform=val_tf)
    sampler = RandomSampler(val_set)
    full = ImageFolder(root)
    tr, va = random_split(full, [0.9, 0.1])
    """
    assert hits({"d.py": src}, "data.augment-on-eval") == []


# --- data.norm-stats-leak ------------------------------------------------------------------


def test_a_scaler_fitted_before_train_test_split_leaks() -> None:
    src = """
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler()
    X = scaler.fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    """
    assert hits({"prep.py": src}, "data.norm-stats-leak") == [("prep.py", 4)]


def test_mean_and_std_of_the_full_data_before_slicing_leak() -> None:
    src = """
    def prepare(data):
        mean = data.mean(axis=0)
        std = data.std(axis=0)
        data = (data - mean) / std
        n = int(len(data) * 0.8)
        x_train, x_val = data[:n], data[n:]
        return x_train, x_val
    """
    assert hits({"prep.py": src}, "data.norm-stats-leak") == [("prep.py", 3), ("prep.py", 4)]


def test_statistics_from_the_training_part_only_do_not_leak() -> None:
    src = """
    def prepare(data):
        n = int(len(data) * 0.8)
        x_train, x_val = data[:n], data[n:]
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        scaler = StandardScaler().fit(x_train)
        return (x_train - mean) / std, (x_val - mean) / std

    def forward(x):
        mean = x.mean(dim=-1, keepdim=True)
        return x - mean

    def per_sample(X, y):
        X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
        return train_test_split(X, y)
    """
    assert hits({"prep.py": src}, "data.norm-stats-leak") == []


# --- data.worker-seed ----------------------------------------------------------------------

RANDOM_DATASET = """
import numpy as np
from torch.utils.data import Dataset

class Noisy(Dataset):
    def __getitem__(self, i):
        return self.x[i] + np.random.normal(0, 0.1)
"""


def test_a_random_dataset_in_worker_processes_without_seeding_is_reported() -> None:
    train = """
    from data import Noisy
    train_ds = Noisy()
    train_loader = DataLoader(train_ds, batch_size=32, shuffle=True, num_workers=4)
    """
    assert hits({"data.py": RANDOM_DATASET, "train.py": train}, "data.worker-seed") == [
        ("train.py", 4)
    ]


def test_worker_count_from_an_argparse_default_is_understood() -> None:
    train = """
    parser.add_argument("--workers", type=int, default=8)
    train_loader = DataLoader(Noisy(), batch_size=32, shuffle=True, num_workers=args.workers)
    """
    assert hits({"data.py": RANDOM_DATASET, "train.py": train}, "data.worker-seed") == [
        ("train.py", 3)
    ]


def test_seeded_workers_main_process_loading_and_deterministic_datasets_are_fine() -> None:
    seeded = """
    train_loader = DataLoader(Noisy(), shuffle=True, num_workers=4, worker_init_fn=seed_worker)
    """
    no_workers = """
    train_loader = DataLoader(Noisy(), shuffle=True, num_workers=0)
    """
    plain = """
    class Plain(Dataset):
        def __getitem__(self, i):
            return self.x[i]
    train_loader = DataLoader(Plain(), shuffle=True, num_workers=4)
    """
    for train in (seeded, no_workers):
        assert hits({"data.py": RANDOM_DATASET, "train.py": train}, "data.worker-seed") == []
    assert hits({"train.py": plain}, "data.worker-seed") == []
