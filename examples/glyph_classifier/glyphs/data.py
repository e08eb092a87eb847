"""Synthetic seven-segment digit images, generated deterministically from a seed.

Each sample is a 16x16 grey image of a digit drawn with seven segments, shifted by up to two pixels,
with random stroke brightness, a few dropped pixels and Gaussian noise. The generator is the data
source: train, validation and test are disjoint index ranges of one seeded stream, so the splits
never share a sample, and normalization statistics come from the training split alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

SIZE = 16
NUM_CLASSES = 10

# Segments a..g as (row0, col0, row1, col1) boxes on a 16x16 canvas.
_SEGMENTS = {
    "a": (2, 5, 3, 11),
    "b": (3, 10, 8, 11),
    "c": (8, 10, 13, 11),
    "d": (12, 5, 13, 11),
    "e": (8, 4, 13, 5),
    "f": (3, 4, 8, 5),
    "g": (7, 5, 8, 11),
}
_DIGITS = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"]


def _template(digit: int) -> torch.Tensor:
    img = torch.zeros(SIZE, SIZE)
    for seg in _DIGITS[digit]:
        r0, c0, r1, c1 = _SEGMENTS[seg]
        img[r0 : r1 + 1, c0 : c1 + 1] = 1.0
    return img


def generate(n: int, seed: int, noise: float = 0.35) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``n`` images (n, 1, 16, 16) in [0, 1]-ish and their labels (n,) as int64."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    templates = torch.stack([_template(d) for d in range(NUM_CLASSES)])
    images = templates[labels].clone()
    shifts = torch.randint(-2, 3, (n, 2), generator=g)
    for i in range(n):
        images[i] = torch.roll(
            images[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(0, 1)
        )
    images *= 0.6 + 0.4 * torch.rand(n, 1, 1, generator=g)
    images *= (torch.rand(n, SIZE, SIZE, generator=g) > 0.1).float()
    images += noise * torch.randn(n, SIZE, SIZE, generator=g)
    return images.unsqueeze(1), labels


@dataclass
class Splits:
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    mean: float
    std: float


def make_splits(n_train: int = 3000, n_val: int = 600, n_test: int = 600, seed: int = 0) -> Splits:
    """Disjoint splits from separate seeded streams, normalized with training statistics only."""
    x_train, y_train = generate(n_train, seed=seed * 3 + 1)
    x_val, y_val = generate(n_val, seed=seed * 3 + 2)
    x_test, y_test = generate(n_test, seed=seed * 3 + 3)
    mean, std = float(x_train.mean()), float(x_train.std())

    def norm(x: torch.Tensor) -> torch.Tensor:
        return (x - mean) / std

    return Splits(
        train=TensorDataset(norm(x_train), y_train),
        val=TensorDataset(norm(x_val), y_val),
        test=TensorDataset(norm(x_test), y_test),
        mean=mean,
        std=std,
    )


def train_dataset(seed: int = 0) -> Dataset[tuple[torch.Tensor, ...]]:
    return make_splits(seed=seed).train


def val_dataset(seed: int = 0) -> Dataset[tuple[torch.Tensor, ...]]:
    return make_splits(seed=seed).val


def loaders(
    splits: Splits, batch_size: int, seed: int
) -> tuple[
    DataLoader[tuple[torch.Tensor, ...]],
    DataLoader[tuple[torch.Tensor, ...]],
    DataLoader[tuple[torch.Tensor, ...]],
]:
    shuffle_gen = torch.Generator().manual_seed(seed)
    train = DataLoader(splits.train, batch_size=batch_size, shuffle=True, generator=shuffle_gen)
    val = DataLoader(splits.val, batch_size=2 * batch_size, shuffle=False)
    test = DataLoader(splits.test, batch_size=2 * batch_size, shuffle=False)
    return train, val, test
