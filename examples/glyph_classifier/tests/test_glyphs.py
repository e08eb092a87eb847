from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glyphs.data import NUM_CLASSES, generate, make_splits
from glyphs.model import build_model


def test_generated_data_has_the_right_shapes_and_every_class():
    x, y = generate(500, seed=1)
    assert x.shape == (500, 1, 16, 16)
    assert y.dtype == torch.int64
    assert set(y.tolist()) == set(range(NUM_CLASSES))


def test_splits_are_normalized_with_training_statistics():
    s = make_splits(n_train=400, n_val=100, n_test=100)
    x_train = s.train.tensors[0]
    assert abs(float(x_train.mean())) < 1e-4
    assert abs(float(x_train.std()) - 1.0) < 1e-3


def test_model_outputs_one_logit_per_class():
    logits = build_model()(torch.zeros(4, 1, 16, 16))
    assert logits.shape == (4, NUM_CLASSES)
