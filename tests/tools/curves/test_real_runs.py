"""Each curve check on real small CPU training runs: one run that shows it, one that does not."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from dlpilot.tools.curves import diagnose_runs

from . import _training as T

pytestmark = pytest.mark.slow

PROBLEMS = {
    "loss.nonfinite",
    "loss.negative",
    "lr.too-high",
    "curve.diverged",
    "curve.train-loss-increasing",
    "curve.overfitting",
    "curve.high-bias",
    "curve.high-variance",
    "curve.data-mismatch",
    "curve.unstable",
    "curve.saturated",
    "curve.val-better-than-train",
}


@pytest.fixture(scope="module")
def well_tuned():
    return diagnose_runs([T.well_tuned()], target_error=0.0)


def test_a_well_tuned_run_shows_none_of_the_problems(well_tuned):
    assert well_tuned.ids & PROBLEMS == set()
    assert well_tuned.verdict == "balanced"


def test_a_huge_learning_rate_diverges_to_nan_in_the_first_steps(well_tuned):
    d = diagnose_runs([T.diverging()])
    assert {"loss.nonfinite", "curve.diverged", "lr.too-high"} <= d.ids
    assert d.verdict == "instability"
    [f] = [f for f in d.findings if f.id == "loss.nonfinite"]
    assert f.evidence[0].step is not None and f.evidence[0].step < 20


def test_a_wide_model_on_few_noisy_samples_overfits_with_high_variance():
    d = diagnose_runs([T.overfitting()], target_error=0.0)
    assert {"curve.overfitting", "curve.high-variance"} <= d.ids
    assert d.verdict == "high variance"


def test_a_linear_model_on_circles_has_high_bias():
    d = diagnose_runs([T.high_bias()], target_error=0.0)
    assert "curve.high-bias" in d.ids and d.verdict == "high bias"
    assert "curve.high-variance" not in d.ids


def test_a_shifted_dev_set_shows_data_mismatch_not_variance():
    d = diagnose_runs([T.data_mismatch()], target_error=0.0)
    assert "curve.data-mismatch" in d.ids and d.verdict == "data mismatch"
    assert "curve.high-variance" not in d.ids


def test_the_gradient_ascent_bug_makes_the_training_loss_increase():
    d = diagnose_runs([T.gradient_ascent()])
    assert "curve.train-loss-increasing" in d.ids
    assert "curve.diverged" not in d.ids


def test_a_late_learning_rate_jump_is_unstable():
    d = diagnose_runs([T.late_lr_jump()])
    assert "curve.unstable" in d.ids
    assert "lr.too-high" not in d.ids  # the blow-up is late, not in the first steps


def test_a_model_that_converges_in_two_epochs_of_forty_is_saturated():
    d = diagnose_runs([T.converged_early()], target_error=0.08)
    assert "curve.saturated" in d.ids and "curve.still-improving" not in d.ids
    assert "curve.high-bias" not in d.ids  # at the Bayes error of the overlapping blobs


def test_a_too_short_run_is_still_improving():
    d = diagnose_runs([T.too_short()])
    assert "curve.still-improving" in d.ids and "curve.saturated" not in d.ids


def test_dropout_only_in_training_makes_validation_better_than_training():
    d = diagnose_runs([T.heavy_dropout()])
    assert "curve.val-better-than-train" in d.ids


def test_nll_loss_on_raw_logits_gives_a_negative_classification_loss():
    assert "loss.negative" in diagnose_runs([T.nll_on_logits()]).ids


def test_a_gaussian_nll_below_zero_is_not_a_negative_loss_finding():
    run = T.gaussian_nll_regression()
    assert run.get("train/loss").values.min() < 0  # the condition is really there
    assert "loss.negative" not in diagnose_runs([run]).ids


def test_runs_compare_with_the_well_tuned_one_first():
    from dlpilot.tools.curves import compare_runs

    cmp = compare_runs([T.high_bias(), T.well_tuned()], "val/acc")
    assert [r.run for r in cmp.ranking] == ["well-tuned", "linear-on-circles"]
