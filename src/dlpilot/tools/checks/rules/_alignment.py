"""Rules on whether validation sees the data training sees, and whether the labels still belong to
their inputs (catalogue section ``data``): ``data.eval-preprocess-mismatch`` from the model inputs'
statistics per role, ``data.labels-misaligned`` from the training curve against the label prior
together with the overfit verdict (:func:`judge_misaligned`, called once both runs are known)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from dlpilot.findings import Finding
from dlpilot.sandbox.probe._schema import BucketSummary
from dlpilot.tools._contract import reports
from dlpilot.tools.checks._evidence import ProbeRun, get, num
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence, trained_buckets

SCALE_RATIO = 5.0
"""Factor by which the validation inputs' scale (root-mean-square and largest magnitude, both)
must differ from the training inputs' before they count as preprocessed differently. Augmentation
noise or a shifted split moves the scale by tens of percent; a forgotten standardization or /255
moves it by an order of magnitude or more."""

MIN_RMS = 1e-6
"""Inputs quieter than this (all zeros) say nothing about scale."""

MISALIGNED_MIN_STEPS = 30
"""Training steps with a loss the flat-at-the-prior judgement needs."""

PRIOR_BAND = 0.03
"""The late training loss (its mean over the second half of the run) must not be more than 3% below
the label prior's entropy for "the model learns nothing beyond the class frequencies". A batch of
16 moves one loss value by ~8%, a 20-step mean by ~2%; an aligned model learning slowly (30% label
noise) is already 7% below the prior by then."""

LATE_SHARE = 0.5
"""The late part of the training curve: its second half."""

MISALIGNED_MIN_PER_CLASS = 100
"""Training samples per class the run must have shown the model before a loss flat at the prior
says anything. With fewer, an honest model on a hard task is still at the prior too: 40 steps of
256 images over ImageNet's 1,000 classes (10 a class) or of 128 over CIFAR-100's (51 a class);
CIFAR-10 at batch 128 sees 512 a class, a small tabular task at batch 16 over 3 classes 213."""


class AlignmentChecks(RuntimeCheck):
    ids = ("data.eval-preprocess-mismatch",)

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        train = [b for b in trained_buckets(run, "train") if _scaled(b)]
        val = [b for b in trained_buckets(run, "val") if _scaled(b)]
        for v in val:
            same = [t for t in train if t.get("top") == v.get("top")]
            if not same:
                continue
            t_rms = max(float(t["rms_max"]) for t in same)
            t_abs = max(float(t["absmax"]) for t in same)
            r_rms = float(v["rms_max"]) / t_rms
            r_abs = float(v["absmax"]) / t_abs
            up = r_rms >= SCALE_RATIO and r_abs >= SCALE_RATIO
            down = r_rms <= 1 / SCALE_RATIO and r_abs <= 1 / SCALE_RATIO
            if up or down:
                yield evidence(
                    ctx,
                    run,
                    "data.eval-preprocess-mismatch",
                    f"The model's validation inputs are on another scale than its training "
                    f"inputs (root-mean-square {float(v['rms_max']):.3g} vs {t_rms:.3g}, largest "
                    f"magnitude {float(v['absmax']):.3g} vs {t_abs:.3g}): validation data is "
                    "not preprocessed (scaled, standardized) the way training data is, so the "
                    "validation metrics measure the wrong thing. Apply the same preprocessing "
                    "in evaluation.",
                    detail={
                        "train_rms": t_rms,
                        "val_rms": float(v["rms_max"]),
                        "train_absmax": t_abs,
                        "val_absmax": float(v["absmax"]),
                    },
                )
                return


def _scaled(b: BucketSummary) -> bool:
    return (
        bool(b.get("float_input"))
        and int(b.get("stats_n", 0)) > 0
        and float(b.get("rms_max", 0.0)) > MIN_RMS
        and float(b.get("absmax", 0.0)) > MIN_RMS
    )


def _one_label_per_sample(run: ProbeRun) -> bool:
    """Whether the class loss got one label per input sample: a label batch as long as the batch
    of inputs the trained model saw (sequence targets have a label per token)."""
    batches = get(run.summary, "labels", "batches", default=[])
    numels = {int(b[3]) for b in batches if isinstance(b, list) and len(b) >= 4}
    sizes = {int(b["shape"][0]) for b in trained_buckets(run, "train") if b.get("shape")}
    return bool(numels & sizes)


def _samples_per_class(run: ProbeRun, steps: int) -> float:
    """Training samples per class over ``steps`` steps: the trained model's batch size times the
    steps, over the classes of the logits (or of the labels seen, when larger)."""
    sizes = [int(b["shape"][0]) for b in trained_buckets(run, "train") if b.get("shape")]
    counts = get(run.summary, "labels", "class_counts", default=[]) or []
    classes = max(
        int(get(run.summary, "loss", "first_class_loss", "classes", default=0) or 0),
        len(counts) if isinstance(counts, list) else 0,
        1,
    )
    return steps * (max(sizes) if sizes else 0) / classes


def prior_entropy(run: ProbeRun) -> float | None:
    """The entropy (nats) of the class frequencies among the training labels the probe saw."""
    counts = get(run.summary, "labels", "class_counts", default=None)
    if not isinstance(counts, list):
        return None
    total = sum(int(c) for c in counts)
    if total <= 0 or sum(1 for c in counts if c) < 2:
        return None
    return float(-sum(c / total * math.log(c / total) for c in counts if c))


@reports("data.labels-misaligned")
def judge_misaligned(run: ProbeRun, ctx: Context, overfit_passed: bool) -> Finding | None:
    """``data.labels-misaligned``: the model fits one batch (the overfit test passed), yet over the
    training run its classification loss stays at the entropy of the label prior, what a model
    that has learnt only the class frequencies scores. ``None`` when the run does not show it."""
    if not overfit_passed:
        return None
    first = get(run.summary, "loss", "first_class_loss", default=None)
    if not isinstance(first, dict) or first.get("fn") not in ("cross_entropy", "nll_loss"):
        return None
    if first.get("reduction", "mean") != "mean":
        return None
    frozen = int(get(run.summary, "grads", "frozen", default=0) or 0)
    if frozen or int(get(run.summary, "grads", "not_in_optimizer_count", default=0) or 0):
        return None  # frozen features may not carry the label; a head still memorizes a batch
    if not _one_label_per_sample(run):
        return None  # a language model's tokens: it reaches the unigram entropy first, honestly
    prior = prior_entropy(run)
    losses = [v for s in run.steps if (v := num(s.get("loss"))) is not None and math.isfinite(v)]
    if prior is None or prior <= 0 or len(losses) < MISALIGNED_MIN_STEPS:
        return None
    if _samples_per_class(run, len(losses)) < MISALIGNED_MIN_PER_CLASS:
        return None  # too few examples of each class for any model to beat the prior yet
    late = losses[int(len(losses) * (1 - LATE_SHARE)) :]
    late_mean = sum(late) / len(late)
    if late_mean < (1 - PRIOR_BAND) * prior:
        return None
    return evidence(
        ctx,
        run,
        "data.labels-misaligned",
        f"The model can fit a single batch (the overfit test passed), but over {len(losses)} "
        f"training steps its loss stays at {late_mean:.3g}, the entropy of the label "
        f"frequencies ({prior:.3g} nats): it learns nothing beyond how common each class is. "
        "The labels no longer belong to their inputs (inputs and labels shuffled, sorted or "
        "indexed separately).",
        detail={"late_loss": late_mean, "prior_entropy": prior, "steps": len(losses)},
    )
