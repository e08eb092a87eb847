import pytest

from dlpilot.tools.curves.readers import normalize_metric_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("loss", "train/loss"),
        ("train_loss", "train/loss"),
        ("training_loss", "train/loss"),
        ("train/loss", "train/loss"),
        ("Loss/train", "train/loss"),
        ("train_loss_step", "train/loss"),
        ("train_loss_epoch", "train/loss_epoch"),
        ("val_loss", "val/loss"),
        ("valid_loss", "val/loss"),
        ("validation_loss", "val/loss"),
        ("eval_loss", "val/loss"),
        ("val/loss", "val/loss"),
        ("Loss/val", "val/loss"),
        ("dev_loss", "val/loss"),
        ("test_loss", "test/loss"),
        ("train_dev_loss", "train-dev/loss"),
        ("train-dev_loss", "train-dev/loss"),
        ("traindev_acc", "train-dev/acc"),
        ("holdout_train_loss", "train-dev/loss"),
        ("Loss/train_dev", "train-dev/loss"),
        ("accuracy/train-dev", "train-dev/acc"),
        ("acc", "train/acc"),
        ("accuracy", "train/acc"),
        ("train_acc", "train/acc"),
        ("val_acc", "val/acc"),
        ("eval_accuracy", "val/acc"),
        ("Accuracy/Test", "test/acc"),
        ("val_error_rate", "val/error"),
        ("err", "train/error"),
        ("learning_rate", "lr"),
        ("lr", "lr"),
        ("lr-AdamW", "lr"),
        ("lr-AdamW/pg2", "lr/pg2"),
        ("train/learning_rate", "lr"),
        ("grad_norm", "grad_norm"),
        ("train/grad_norm", "grad_norm"),
        ("epoch", "epoch"),
        ("eval_runtime", "val/runtime"),
        ("Perplexity/Val", "val/perplexity"),
        ("Throughput.Samples", "throughput/samples"),
        ("total_flos", "total_flos"),
        ("tag0/Loss", "tag0/loss"),
        ("epoch_loss", "train/loss"),  # Keras' TensorBoard callback
        ("epoch_accuracy", "train/acc"),
        ("epoch_learning_rate", "lr"),
        ("epoch_time", "epoch_time"),
    ],
)
def test_common_metric_spellings_map_to_one_canonical_name(name: str, expected: str) -> None:
    assert normalize_metric_name(name) == expected


def test_the_step_and_epoch_means_of_lightning_stay_distinct() -> None:
    assert normalize_metric_name("train_loss_step") != normalize_metric_name("train_loss_epoch")


@pytest.mark.parametrize(
    ("directory", "split"),
    [
        ("loss_val", "val"),
        ("accuracy_train_dev", "train-dev"),
        ("loss_train-dev", "train-dev"),
        ("accuracy_traindev", "train-dev"),
        ("loss_holdout_train", "train-dev"),
        ("train_dev", "train-dev"),
        ("validation", "val"),
        ("loss_dev", "val"),
        ("runs", None),
    ],
)
def test_a_directory_named_for_a_split_gives_that_split(directory: str, split: str | None) -> None:
    from dlpilot.tools.curves.readers._names import trailing_phase

    assert trailing_phase(directory) == split
