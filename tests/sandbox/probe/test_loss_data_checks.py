"""The loss observer's issue-15 checks on real tensors: softmax over the batch, padding counted by
the loss, binary targets outside [0, 1]; and the look-alikes they must leave alone."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from dlpilot.sandbox.probe._loss import LossObserver  # noqa: E402


class _Seen:
    """Stands in for the observer's ``_observe``: records the kinds written."""

    def __init__(self) -> None:
        self.kinds: list[tuple[str, dict[str, Any]]] = []

    def _observe(self, kind: str, **detail: Any) -> None:
        self.kinds.append((kind, detail))


def _padding(target: Any, ignore: int = -100) -> list[str]:
    seen = _Seen()
    LossObserver._padding_check(seen, "cross_entropy", target, ignore)  # type: ignore[arg-type]
    return [k for k, _ in seen.kinds]


def _softmax(x: Any) -> list[str]:
    seen = _Seen()
    LossObserver._softmax_dim_check(seen, "nll_loss", x)  # type: ignore[arg-type]
    return [k for k, _ in seen.kinds]


def _padded(rows: int = 16, width: int = 20, pad: int = 0) -> Any:
    torch.manual_seed(0)
    y = torch.full((rows, width), pad)
    for i in range(rows):
        n = int(torch.randint(3, 9, ()))
        y[i, :n] = torch.randint(1, 30, (n,))
    return y


def test_end_padded_targets_flattened_or_not_are_padding_counted_by_the_loss():
    y = _padded()
    assert _padding(y) == ["padding-not-ignored"]
    assert _padding(y.view(-1)) == ["padding-not-ignored"]
    # a batch sliced from a bigger padded tensor, then flattened
    big = torch.cat([_padded(), _padded()])
    assert _padding(big[16:32].reshape(-1)) == ["padding-not-ignored"]


def test_padding_the_loss_ignores_is_fine():
    assert _padding(_padded(), ignore=0) == []
    assert _padding(_padded(pad=-100)) == []


def test_a_majority_class_spread_through_the_rows_is_not_padding():
    torch.manual_seed(1)
    tags = torch.where(torch.rand(16, 20) < 0.75, 0, torch.randint(1, 5, (16, 20)))
    assert _padding(tags) == []
    # one-dimensional targets carry no rows: imbalance, not padding
    assert _padding(torch.where(torch.rand(64) < 0.8, 0, 1)) == []


def test_log_probabilities_over_the_batch_are_a_wrong_dim_softmax():
    logits = torch.randn(8, 5)
    assert _softmax(torch.log_softmax(logits, dim=0)) == ["softmax-wrong-dim"]
    assert _softmax(torch.softmax(logits, dim=0)) == ["softmax-wrong-dim"]


def test_log_probabilities_over_the_classes_and_raw_logits_are_fine():
    logits = torch.randn(8, 5)
    assert _softmax(torch.log_softmax(logits, dim=1)) == []
    assert _softmax(logits) == []
    # a square batch where both sums happen to be 1 (doubly stochastic) says nothing
    assert _softmax(torch.full((4, 4), 0.25)) == []


def test_a_segmentation_mask_with_background_at_the_borders_is_not_padding():
    masks = torch.zeros(4, 16, 16, dtype=torch.long)
    masks[:, 6:10, 6:10] = 1  # a small object in the middle, background all around
    assert _padding(masks) == []
    assert _padding(masks.view(-1)) == []
