"""The issue-15 data and loss rules on hand-written evidence: validation inputs on another scale,
the training loss flat at the label prior, and the loss observations the probe writes (softmax over
the batch, padding counted, binary targets out of [0, 1])."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dlpilot.tools.checks import Context, ProbeRun, judge_all
from dlpilot.tools.checks.rules._alignment import judge_misaligned, prior_entropy

CTX = Context(root=Path("/project"))


def _bucket(role: str, rms: float, absmax: float, top: int = 1) -> dict[str, Any]:
    return {
        "top": top,
        "trained": True,
        "role": role,
        "float_input": True,
        "stats_n": 4,
        "rms_max": rms,
        "absmax": absmax,
    }


def _ids(summary: dict[str, Any], obs: list[dict[str, Any]] | None = None) -> set[str]:
    run = ProbeRun(start={"ev": "start"}, summary=summary, steps=[])
    for o in obs or []:
        run.add({"ev": "obs", "t": 0.0, "step": 3, "where": None, **o})
    return {f.id for f in judge_all(run, CTX)}


def test_validation_inputs_far_from_the_training_scale_are_a_preprocess_mismatch():
    standardized, raw = _bucket("train", 1.0, 3.5), _bucket("val", 140.0, 255.0)
    assert "data.eval-preprocess-mismatch" in _ids({"buckets": [standardized, raw]})
    # the other way round (validation scaled, training raw) too
    back = [_bucket("train", 140.0, 255.0), _bucket("val", 0.55, 1.0)]
    assert "data.eval-preprocess-mismatch" in _ids({"buckets": back})


def test_augmentation_noise_or_a_shifted_split_is_not_a_preprocess_mismatch():
    noisy = [_bucket("train", 1.3, 5.0), _bucket("val", 1.0, 3.4)]
    assert "data.eval-preprocess-mismatch" not in _ids({"buckets": noisy})
    # one outlier feature in validation moves the largest magnitude, not the scale
    outlier = [_bucket("train", 1.0, 3.5), _bucket("val", 1.2, 40.0)]
    assert "data.eval-preprocess-mismatch" not in _ids({"buckets": outlier})


def test_another_model_evaluated_on_other_inputs_is_not_compared():
    # a teacher (top 2) fed raw values is not the trained student (top 1)
    buckets = [_bucket("train", 1.0, 3.5, top=1), _bucket("val", 140.0, 255.0, top=2)]
    assert "data.eval-preprocess-mismatch" not in _ids({"buckets": buckets})


def _curve_run(losses: list[float], counts: list[int]) -> ProbeRun:
    batch = {"top": 1, "trained": True, "role": "train", "shape": [16, 12]}
    summary = {
        "buckets": [batch],
        "labels": {"class_counts": counts, "batches": [[0, 2, 0, 16.0]] * 3},
        "loss": {"first_class_loss": {"fn": "cross_entropy", "reduction": "mean"}},
    }
    steps = [{"ev": "step", "t": 0.0, "n": i + 1, "loss": v} for i, v in enumerate(losses)]
    return ProbeRun(start={"ev": "start"}, summary=summary, steps=steps)  # type: ignore[arg-type]


def _wiggle(level: float, n: int) -> list[float]:
    return [level + 0.06 * math.sin(1.7 * i) for i in range(n)]


def test_a_loss_flat_at_the_prior_entropy_with_the_overfit_test_passed_is_misaligned():
    counts = [300, 300, 300]
    prior = prior_entropy(_curve_run([], counts))
    assert prior is not None and abs(prior - math.log(3)) < 1e-9
    run = _curve_run([1.25, 1.2, 1.15, *_wiggle(prior, 37)], counts)
    got = judge_misaligned(run, CTX, overfit_passed=True)
    assert got is not None and got.id == "data.labels-misaligned"
    # the same curve without a passed overfit test: the model may not be able to fit at all
    assert judge_misaligned(run, CTX, overfit_passed=False) is None


def test_a_loss_that_falls_below_the_prior_is_not_misaligned():
    counts = [300, 300, 300]
    falling = [1.1 - 0.006 * i for i in range(40)]  # a slow but real learner
    assert judge_misaligned(_curve_run(falling, counts), CTX, overfit_passed=True) is None


def test_the_prior_is_the_label_frequencies_entropy_not_ln_c():
    # skewed labels: a model predicting the frequencies scores 0.80, not ln 3 = 1.10
    counts = [700, 200, 100]
    prior = prior_entropy(_curve_run([], counts))
    assert prior is not None and 0.79 < prior < 0.81
    flat_at_ln_c = _wiggle(math.log(3), 40)
    assert judge_misaligned(_curve_run(flat_at_ln_c, counts), CTX, overfit_passed=True)
    flat_below_prior = _wiggle(0.55, 40)
    assert judge_misaligned(_curve_run(flat_below_prior, counts), CTX, overfit_passed=True) is None


def test_too_few_steps_say_nothing_about_misaligned_labels():
    run = _curve_run(_wiggle(math.log(3), 12), [300, 300, 300])
    assert judge_misaligned(run, CTX, overfit_passed=True) is None


def test_the_probe_observations_map_to_their_ids():
    softmax = {"kind": "softmax-wrong-dim", "detail": {"fn": "nll_loss", "act": "log_softmax"}}
    padding = {
        "kind": "padding-not-ignored",
        "detail": {"fn": "cross_entropy", "pad_id": 0, "share": 0.7, "ignore_index": -100},
    }
    bce = {"kind": "bce-target-range", "detail": {"fn": "bce", "min": 0.0, "max": 2.0}}
    found = _ids({}, [softmax, padding, bce])
    assert {"loss.softmax-wrong-dim", "loss.padding-not-ignored"} <= found
    assert "loss.label-out-of-range" in found


def test_a_language_model_at_the_unigram_entropy_is_not_misaligned():
    # a label per token: 16 sequences of 32 tokens, 512 labels per batch of 16 inputs
    run = _curve_run(_wiggle(math.log(3), 40), [300, 300, 300])
    run.summary["labels"]["batches"] = [[0, 2, 0, 512.0]] * 3
    assert judge_misaligned(run, CTX, overfit_passed=True) is None


def test_a_head_on_a_frozen_backbone_flat_at_the_prior_is_not_misaligned():
    # frozen random features may not carry the label: the head can memorize a batch, not learn
    run = _curve_run(_wiggle(math.log(3), 40), [300, 300, 300])
    run.summary["grads"] = {"frozen": 4}
    assert judge_misaligned(run, CTX, overfit_passed=True) is None


def test_too_few_samples_of_each_class_say_nothing_about_misaligned_labels():
    # 40 steps of 16 over 1,000 classes: an honest model on a hard task is still at the prior
    counts = [3] * 1000
    run = _curve_run(_wiggle(math.log(1000), 40), counts)
    run.summary["loss"]["first_class_loss"]["classes"] = 1000
    assert judge_misaligned(run, CTX, overfit_passed=True) is None
    # the same flat curve over 3 classes (213 samples a class) is misaligned
    run = _curve_run(_wiggle(math.log(3), 40), [300, 300, 300])
    run.summary["loss"]["first_class_loss"]["classes"] = 3
    assert judge_misaligned(run, CTX, overfit_passed=True) is not None
