"""Data rules: non-finite, unnormalized or constant inputs, unshuffled training data, overlapping
splits and skewed classes (catalogue section ``data``)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import Any, cast

from pydantic import JsonValue

from dlpilot.findings import Finding
from dlpilot.sandbox.probe._schema import BucketSummary
from dlpilot.tools.checks._evidence import ProbeRun, get, num
from dlpilot.tools.checks.rules._context import (
    Context,
    RuntimeCheck,
    eval_pass_loaders,
    evidence,
    trained_buckets,
)

UNNORMALIZED_RMS = 5.0
"""Root-mean-square of the first layer's input above which data is unnormalized. Standardized data
has RMS ~1, [0, 1] images ~0.5, raw 0..255 pixels ~100; five leaves room for honest features."""

UNNORMALIZED_ABSMAX = 100.0
"""... or a largest magnitude above this (a single feature on a scale of hundreds or more)."""

CONSTANT_MIN_BATCHES = 2
"""Sampled batches that must all be constant before an input stream is called constant."""

CONSTANT_MIN_LABELS = 16
"""Labels that must all be one class before the labels are called constant."""

SORTED_MIN_BATCHES = 4
"""Consecutive training batches whose labels must run in non-decreasing order (label-sorted)."""

OVERLAP_MIN_ROWS = 2
"""Distinct non-constant input rows seen both in training and in validation before the splits are
called overlapping; one could be a legitimate duplicate, two rarely are."""

IMBALANCE_RATIO = 10.0
"""Most / least frequent class count at or above which labels are strongly skewed."""

IMBALANCE_MIN_PER_CLASS = 20
"""Labels per class that must have been seen before the ratio is trusted."""

IMBALANCE_ABSENT_MAX_CLASSES = 20
"""A class never seen in the sampled labels counts as skew only among at most this many classes.
Over a larger label space (token ids, a vocabulary) some ids are never targets by design, such as
padding or special tokens, so only the classes that occur are compared."""


class DataChecks(RuntimeCheck):
    ids = (
        "data.nonfinite",
        "data.unnormalized",
        "data.constant",
        "data.train-not-shuffled",
        "data.split-overlap",
        "data.class-imbalance",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        s = run.summary
        buckets = trained_buckets(run)
        train = trained_buckets(run, "train")
        bad = [b for b in buckets if int(b.get("nonfinite", 0)) > 0]
        tf = get(s, "labels", "target_float", default={})
        if bad or int(get(tf, "nonfinite", default=0)) > 0:
            step = min((int(b.get("nonfinite_step") or 0) for b in bad), default=None)
            yield evidence(
                ctx,
                run,
                "data.nonfinite",
                "NaN / Inf values in the "
                + ("model inputs" if bad else "loss targets")
                + (f" (first at step {step})" if step is not None else "")
                + ".",
                step=step,
                detail={
                    "input_batches": sum(int(b.get("nonfinite", 0)) for b in bad),
                    "target_batches": int(get(tf, "nonfinite", default=0)),
                },
            )
        yield from self._unnormalized(run, ctx, train)
        yield from self._constant(run, ctx, train)
        order = list(self._order(run, ctx))
        yield from order
        ov = get(s, "overlap", default={})
        shared = int(get(ov, "shared_rows", default=0))
        if shared >= OVERLAP_MIN_ROWS:
            yield evidence(
                ctx,
                run,
                "data.split-overlap",
                f"{shared} identical input samples were seen both in training and in "
                f"validation / test batches (of {get(ov, 'val_rows')} validation rows "
                "hashed): the splits overlap.",
                detail={k: v for k, v in ov.items() if isinstance(v, int)},
            )
        if not any(f.id == "data.train-not-shuffled" for f in order):
            # label-sorted batches, of which the probe saw the first part of each epoch, say
            # nothing about the class balance
            yield from self._imbalance(run, ctx)

    def _unnormalized(
        self, run: ProbeRun, ctx: Context, train: list[BucketSummary]
    ) -> Iterable[Finding]:
        fi = get(run.summary, "first_layer_input", default={})
        if fi.get("normalizes"):
            return
        rms = num(fi.get("rms_max")) if int(fi.get("n", 0)) else None
        absmax = num(fi.get("absmax")) if int(fi.get("n", 0)) else None
        where = f"the input of the first layer ({fi.get('type')})"
        if rms is None:
            floats = [b for b in train if b.get("float_input") and int(b.get("stats_n", 0))]
            if not floats:
                return
            rms = max(float(b.get("rms_max", 0.0)) for b in floats)
            absmax = max(float(b.get("absmax", 0.0)) for b in floats)
            where = "the model input"
        judged = judge_unnormalized(rms, absmax, where)
        if judged is not None:
            yield evidence(ctx, run, "data.unnormalized", judged[0], detail=judged[1])

    def _constant(
        self, run: ProbeRun, ctx: Context, train: list[BucketSummary]
    ) -> Iterable[Finding]:
        for b in train:
            n = int(b.get("stats_n", 0))
            if n >= CONSTANT_MIN_BATCHES and int(b.get("constant_batches", 0)) == n:
                yield evidence(
                    ctx,
                    run,
                    "data.constant",
                    f"Every sampled training input batch ({n}) is constant (all values "
                    "equal): the input stream carries no information.",
                    detail={"batches": n, "shape": cast(JsonValue, b.get("shape"))},
                )
                return
        labels = get(run.summary, "labels", default={})
        counts = get(labels, "class_counts", default=[])
        total = sum(counts) if counts else 0
        if (
            counts
            and total >= CONSTANT_MIN_LABELS
            and int(get(labels, "class_batches", default=0)) >= 2
        ):
            nonzero = [i for i, c in enumerate(counts) if c]
            if len(nonzero) == 1:
                yield evidence(
                    ctx,
                    run,
                    "data.constant",
                    f"All {total} training labels seen are class {nonzero[0]}: the labels "
                    "are constant.",
                    detail={"labels": total, "class": nonzero[0]},
                )
                return
        tf = get(labels, "target_float", default={})
        lo, hi = num(tf.get("min")), num(tf.get("max"))
        if int(tf.get("n", 0)) >= 2 and lo is not None and lo == hi:
            yield evidence(
                ctx,
                run,
                "data.constant",
                f"Every training target seen equals {lo:g}: the targets are constant.",
                detail={"batches": int(tf.get("n", 0)), "value": lo},
            )

    def _order(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        steps = int(get(run.summary, "steps", default=0))
        evals, _ = eval_pass_loaders(run.summary, steps)
        validation = {int(r[0]) for r in evals}  # stepped through, but walked as validation
        for ld in get(run.summary, "loaders", default=[]):
            if ld.get("kind") != "train" or ld.get("iterable") or ld.get("lid") in validation:
                continue
            if ld.get("same_order") is True:
                yield evidence(
                    ctx,
                    run,
                    "data.train-not-shuffled",
                    f"The training DataLoader (sampler {ld.get('sampler')}) yields the "
                    "same batches in the same order every epoch; pass shuffle=True.",
                    detail={
                        "loader": ld.get("lid"),
                        "sampler": ld.get("sampler"),
                        "epochs": ld.get("epochs"),
                    },
                )
                return
            if ld.get("same_order") is None and ld.get("sampler") == "SequentialSampler":
                yield evidence(
                    ctx,
                    run,
                    "data.train-not-shuffled",
                    "The training DataLoader uses a SequentialSampler (shuffle=False): "
                    "batches come in a fixed order; pass shuffle=True.",
                    detail={"loader": ld.get("lid"), "sampler": ld.get("sampler")},
                )
                return
        batches = get(run.summary, "labels", "batches", default=[])
        if len(batches) >= SORTED_MIN_BATCHES:
            first = batches[: max(SORTED_MIN_BATCHES, min(len(batches), 16))]
            inner = all(int(b[2]) == 1 for b in first)
            across = all(a[1] <= b[0] for a, b in pairwise(first))
            distinct = first[-1][1] > first[0][0]
            if inner and across and distinct:
                yield evidence(
                    ctx,
                    run,
                    "data.train-not-shuffled",
                    f"The first {len(first)} training batches come sorted by label "
                    f"(labels {first[0][0]:g} .. {first[-1][1]:g} in order): the data is "
                    "label-sorted and not shuffled.",
                    detail={"batches": len(first)},
                )

    def _imbalance(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        labels = get(run.summary, "labels", default={})
        judged = judge_imbalance(
            get(labels, "class_counts", default=[]) or [],
            get(labels, "ignored_classes", default=[]),
            get(labels, "binary", default={}),
        )
        if judged is not None:
            yield evidence(ctx, run, "data.class-imbalance", judged[0], detail=judged[1])


def judge_unnormalized(
    rms: float, absmax: float | None, where: str
) -> tuple[str, dict[str, JsonValue]] | None:
    """``data.unnormalized`` of both modes: the message and detail when the RMS or the largest
    magnitude of ``where`` (the model's input) is too large, else None."""
    if not (rms > UNNORMALIZED_RMS or (absmax or 0.0) > UNNORMALIZED_ABSMAX):
        return None
    return (
        f"{where[0].upper()}{where[1:]} has RMS {rms:.3g} and values up to "
        f"{absmax:.3g}: the data is not normalized (scale it to roughly zero mean "
        "and unit variance, e.g. divide pixels by 255 and standardize).",
        {
            "rms": rms,
            "abs_max": absmax,
            "where": where,
            "threshold_rms": UNNORMALIZED_RMS,
            "threshold_abs_max": UNNORMALIZED_ABSMAX,
        },
    )


def judge_imbalance(
    class_counts: list[int], ignored_classes: Iterable[int], binary: dict[str, Any]
) -> tuple[str, dict[str, JsonValue]] | None:
    """``data.class-imbalance`` of both modes, from sampled training labels: counts per class
    (``ignored_classes``, an ignore_index inside the class range, never a target by design) or
    the positives of binary targets. The message and detail, or None."""
    ignored = set(ignored_classes)
    by_class = {i: c for i, c in enumerate(class_counts) if i not in ignored}
    if len(by_class) > IMBALANCE_ABSENT_MAX_CLASSES:
        by_class = {i: c for i, c in by_class.items() if c}
    counts = list(by_class.values())
    total = sum(counts)
    if len(counts) >= 2 and total >= IMBALANCE_MIN_PER_CLASS * len(counts):
        hi, lo = max(counts), min(counts)
        skewed = lo == 0 or hi / lo >= IMBALANCE_RATIO
        if skewed and sum(1 for c in counts if c) >= 2:
            absent = [i for i, c in by_class.items() if not c]
            if absent:
                shown = ", ".join(str(i) for i in absent[:5]) + (" ..." if len(absent) > 5 else "")
                message = (
                    f"Class id(s) {shown} never occur as a target in the sampled training "
                    f"batches while others occur up to {hi} times: a class missing from "
                    "the training data (if it is a special token never meant as a target, "
                    "such as a start-of-sequence id, this is expected)."
                )
            else:
                message = (
                    f"Class counts in the sampled training batches range from {lo} to "
                    f"{hi} (ratio {hi / lo:.3g}): the labels are strongly skewed."
                )
            return message, {
                "class_counts": list(counts[:100]),
                "absent_classes": list(absent[:20]),
                "ratio": hi / lo if lo else None,
                "threshold": IMBALANCE_RATIO,
            }
    n, pos = float(binary.get("n", 0.0)), float(binary.get("pos", 0.0))
    if n >= 2 * IMBALANCE_MIN_PER_CLASS * IMBALANCE_RATIO:
        share = pos / n
        small = min(share, 1 - share)
        if small * (IMBALANCE_RATIO + 1) <= 1 and small > 0:
            return (
                f"Only {small:.1%} of the binary targets are in the minority class.",
                {"positives": pos, "targets": n, "threshold": IMBALANCE_RATIO},
            )
    return None
