"""Every curve rule on a synthetic curve that shows its condition and on one that does not."""

from __future__ import annotations

import numpy as np
import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.curves._diagnose import diagnose_runs

from .._synthetic import EVAL_STEPS, STEPS, decay, healthy_run, make_run, noisy, series

PROBLEM_IDS = {
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


def ids_of(*runs, **kw) -> set[str]:
    return diagnose_runs(list(runs), **kw).ids


def one(diag, id_):
    [f] = [f for f in diag.findings if f.id == id_]
    return f


def test_a_healthy_noisy_falling_run_shows_no_problem():
    assert ids_of(healthy_run()) & PROBLEM_IDS == set()


@pytest.mark.parametrize("seed", range(5))
def test_healthy_runs_stay_quiet_whatever_the_noise_seed(seed):
    assert ids_of(healthy_run(seed=seed)) & PROBLEM_IDS == set()


# loss.nonfinite ---------------------------------------------------------------------------------


def test_a_nan_loss_is_reported_at_its_first_step():
    v = noisy(decay(STEPS))
    v[300] = np.nan
    v[400] = np.inf
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, v))])
    f = one(d, "loss.nonfinite")
    assert f.evidence[0].step == 300
    assert f.evidence[0].detail["nonfinite_points"] == 2
    assert f.evidence[0].detail["recovered"] is True
    assert "curve.diverged" not in d.ids  # it came back


def test_finite_losses_raise_no_nonfinite_finding():
    assert "loss.nonfinite" not in ids_of(healthy_run())


# loss.negative ----------------------------------------------------------------------------------


def _negative_loss(original: str, with_acc: bool):
    v = decay(STEPS, start=1.0, floor=-0.5)
    items = [series("train/loss", STEPS, v, original=original)]
    if with_acc:
        items.append(series("train/acc", STEPS, np.linspace(0.1, 0.9, STEPS.shape[0])))
    return make_run("r", *items)


def test_a_negative_cross_entropy_is_reported():
    d = diagnose_runs([_negative_loss("train_ce_loss", with_acc=False)])
    f = one(d, "loss.negative")
    assert f.evidence[0].detail["lowest"] < 0
    assert f.evidence[0].step is not None and f.evidence[0].step > 0


def test_a_negative_generic_loss_of_a_classifier_is_reported():
    assert "loss.negative" in ids_of(_negative_loss("loss", with_acc=True))


def test_a_negative_generic_loss_without_accuracy_may_be_a_likelihood_and_is_not_reported():
    assert "loss.negative" not in ids_of(_negative_loss("loss", with_acc=False))


def test_a_negative_nll_is_not_reported_even_beside_an_accuracy():
    assert "loss.negative" not in ids_of(_negative_loss("train_nll", with_acc=False))


def test_rounding_level_negative_values_are_not_reported():
    v = np.maximum(decay(STEPS, floor=0.0), 0.0) - 1e-9
    run = make_run("r", series("train/loss", STEPS, v, original="cross_entropy"))
    assert "loss.negative" not in ids_of(run)


# curve.diverged ---------------------------------------------------------------------------------


def test_a_loss_that_explodes_after_its_minimum_diverged():
    v = decay(STEPS)
    v[600:] = v[600] * np.exp((STEPS[600:] - 600) / 80.0)
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, noisy(v)))])
    f = one(d, "curve.diverged")
    assert f.evidence[0].detail["ratio"] >= 2.0
    assert 450 <= f.evidence[0].step <= 650
    assert d.verdict == "instability"
    assert "curve.train-loss-increasing" not in d.ids


def test_a_loss_that_turns_nan_for_good_diverged():
    v = noisy(decay(STEPS))
    v[700:] = np.nan
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, v))])
    assert one(d, "curve.diverged").evidence[0].step == 700


def test_a_small_creep_at_the_bottom_of_a_long_descent_is_not_divergence():
    v = decay(STEPS, start=2.3, floor=0.01, tau=60)
    v[700:] += np.linspace(0, 0.015, 300)
    assert "curve.diverged" not in ids_of(make_run("r", series("train/loss", STEPS, v)))


def test_a_spike_that_recovers_is_not_divergence():
    v = noisy(decay(STEPS))
    v[500:510] *= 8
    assert "curve.diverged" not in ids_of(make_run("r", series("train/loss", STEPS, v)))


# lr.too-high ------------------------------------------------------------------------------------


def test_a_loss_that_blows_up_in_the_first_steps_means_lr_too_high():
    v = np.concatenate([2.3 * np.exp(STEPS[:40] / 8.0), np.full(960, np.nan)])
    lr = series("lr", STEPS, np.full(1000, 3.0))
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, v), lr)])
    f = one(d, "lr.too-high")
    assert f.evidence[0].detail["lr"] == 3.0
    assert "loss.nonfinite" in d.ids and "curve.diverged" in d.ids


def test_a_finite_early_blowup_is_reported_with_its_ratio():
    v = decay(STEPS)
    v[5:60] = np.linspace(2.3, 12.0, 55)
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, v))])
    assert one(d, "lr.too-high").evidence[0].detail["ratio"] >= 3.0


def test_one_bad_early_batch_is_not_an_lr_blowup():
    v = noisy(decay(STEPS))
    v[10] = 20.0
    assert "lr.too-high" not in ids_of(make_run("r", series("train/loss", STEPS, v)))


def test_a_late_blowup_is_divergence_but_not_an_early_lr_symptom():
    v = decay(STEPS)
    v[800:] = v[800] * np.exp((STEPS[800:] - 800) / 30.0)
    got = ids_of(make_run("r", series("train/loss", STEPS, v)))
    assert "curve.diverged" in got and "lr.too-high" not in got


# curve.train-loss-increasing -------------------------------------------------------------------


def test_a_noisy_rising_training_loss_is_reported():
    v = noisy(np.linspace(0.7, 1.2, 1000), rel=0.3)
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, v))])
    f = one(d, "curve.train-loss-increasing")
    assert f.evidence[0].detail["late_median"] > f.evidence[0].detail["early_median"]
    assert "curve.diverged" not in d.ids


@pytest.mark.parametrize("seed", range(5))
def test_a_very_noisy_but_falling_training_loss_is_not_increasing(seed):
    v = noisy(decay(STEPS, start=1.0, floor=0.5, tau=400), rel=0.6, seed=seed)
    assert "curve.train-loss-increasing" not in ids_of(
        make_run("r", series("train/loss", STEPS, v))
    )


def test_a_noisy_flat_training_loss_is_not_increasing():
    v = noisy(np.full(1000, 0.9), rel=0.4)
    assert "curve.train-loss-increasing" not in ids_of(
        make_run("r", series("train/loss", STEPS, v))
    )


def test_too_few_points_say_nothing_about_a_trend():
    run = make_run("r", series("train/loss", [0, 1, 2, 3, 4], [1.0, 1.2, 1.4, 1.6, 1.9]))
    assert "curve.train-loss-increasing" not in ids_of(run)


# curve.overfitting ------------------------------------------------------------------------------


def _overfit_run():
    train = noisy(decay(STEPS, floor=0.02, tau=200))
    val = decay(EVAL_STEPS, floor=0.4) + 0.0008 * np.maximum(EVAL_STEPS - 400, 0)
    return make_run("over", series("train/loss", STEPS, train), series("val/loss", EVAL_STEPS, val))


def test_validation_loss_rising_after_its_minimum_while_training_falls_is_overfitting():
    d = diagnose_runs([_overfit_run()])
    f = one(d, "curve.overfitting")
    assert 300 <= f.evidence[0].step <= 500
    assert f.evidence[0].detail["final_value"] > f.evidence[0].detail["best_value"]


def test_validation_rising_together_with_training_is_not_overfitting():
    base = decay(STEPS, floor=0.3, tau=100) + 0.0006 * np.maximum(STEPS - 400, 0)
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(base, rel=0.05)),
        series("val/loss", EVAL_STEPS, base[EVAL_STEPS] + 0.05),
    )
    assert "curve.overfitting" not in ids_of(run)


def test_validation_accuracy_falling_after_its_peak_is_overfitting_without_a_loss():
    val = 0.9 - 0.5 * np.exp(-EVAL_STEPS / 100) - 0.0002 * np.maximum(EVAL_STEPS - 400, 0)
    train = 1.0 - 0.6 * np.exp(-STEPS / 150)
    run = make_run("r", series("train/acc", STEPS, train), series("val/acc", EVAL_STEPS, val))
    assert "curve.overfitting" in ids_of(run)


def test_a_healthy_validation_curve_is_not_overfitting():
    assert "curve.overfitting" not in ids_of(healthy_run())


# bias / variance / mismatch ---------------------------------------------------------------------


def _acc_run(train: float, val: float, train_dev: float | None = None, test: float | None = None):
    def curve(final, seed):
        return np.clip(noisy(final - 0.4 * np.exp(-EVAL_STEPS / 100), rel=0.002, seed=seed), 0, 1)

    items = [
        series("train/acc", EVAL_STEPS, curve(train, 1)),
        series("val/acc", EVAL_STEPS, curve(val, 2)),
    ]
    if train_dev is not None:
        items.append(series("train-dev/acc", EVAL_STEPS, curve(train_dev, 3)))
    if test is not None:
        items.append(series("test/acc", EVAL_STEPS, curve(test, 4)))
    return make_run("acc", *items)


def test_high_training_error_against_the_target_is_high_bias():
    d = diagnose_runs([_acc_run(train=0.70, val=0.69)], target_error=0.02)
    b = d.runs[0].breakdown
    assert d.verdict == "high bias"
    assert b.avoidable_bias == pytest.approx(0.28, abs=0.02)
    assert "curve.high-bias" in d.ids
    assert any("larger" in a for a in d.next_actions)


def test_training_error_at_the_target_is_not_high_bias():
    d = diagnose_runs([_acc_run(train=0.70, val=0.69)], target_error=0.29)
    assert "curve.high-bias" not in d.ids
    assert d.verdict == "balanced"


def test_low_training_error_and_high_dev_error_is_high_variance():
    d = diagnose_runs([_acc_run(train=0.99, val=0.80)], target_error=0.0)
    assert d.verdict == "high variance"
    assert d.runs[0].breakdown.variance == pytest.approx(0.19, abs=0.02)
    assert "curve.high-variance" in d.ids and "curve.high-bias" not in d.ids
    assert any("regularization" in a for a in d.next_actions)


def test_close_training_and_dev_errors_are_not_high_variance():
    assert "curve.high-variance" not in ids_of(_acc_run(train=0.95, val=0.945), target_error=0.04)


def test_good_train_dev_and_bad_dev_error_is_data_mismatch():
    d = diagnose_runs([_acc_run(train=0.98, train_dev=0.97, val=0.80)], target_error=0.01)
    b = d.runs[0].breakdown
    assert d.verdict == "data mismatch"
    assert b.mismatch == pytest.approx(0.17, abs=0.02)
    assert "curve.data-mismatch" in d.ids and "curve.high-variance" not in d.ids
    assert any("closer to the dev" in a for a in d.next_actions)


def test_dev_error_close_to_train_dev_is_not_data_mismatch():
    run = _acc_run(train=0.98, train_dev=0.97, val=0.965)
    assert "curve.data-mismatch" not in ids_of(run, target_error=0.01)


def test_without_validation_the_verdict_says_what_is_missing():
    run = make_run("r", series("train/loss", STEPS, noisy(decay(STEPS))))
    d = diagnose_runs([run])
    assert d.verdict == "insufficient data"
    assert any(m.startswith("val/loss") for m in d.missing)
    assert any(m.startswith("target_error") for m in d.missing)


def test_without_a_target_bias_is_not_guessed():
    d = diagnose_runs([_acc_run(train=0.70, val=0.69)])
    assert d.runs[0].breakdown.avoidable_bias is None
    assert "curve.high-bias" not in d.ids
    assert d.verdict == "insufficient data"
    assert any(m.startswith("target_error") for m in d.missing)


def test_a_run_with_no_losses_or_accuracies_is_insufficient_data():
    d = diagnose_runs([make_run("r", series("lr", STEPS, np.full(1000, 0.1)))])
    assert d.verdict == "insufficient data" and d.missing


def test_percent_accuracies_are_read_as_fractions():
    run = _acc_run(train=0.99, val=0.80)
    for s in run.series.values():
        s.values = s.values * 100
    b = diagnose_runs([run], target_error=0.0).runs[0].breakdown
    assert b.fraction_error and b.variance == pytest.approx(0.19, abs=0.02)


def test_an_unknown_metric_goal_is_refused_with_the_name():
    with pytest.raises(InvalidArgument, match="wobble"):
        diagnose_runs([healthy_run()], metric="wobble")
    with pytest.raises(InvalidArgument, match="sideways"):
        diagnose_runs([healthy_run()], goal="sideways")  # type: ignore[arg-type]


def test_no_runs_is_refused():
    with pytest.raises(InvalidArgument):
        diagnose_runs([])


# curve.unstable ---------------------------------------------------------------------------------


def test_late_spikes_are_instability():
    v = noisy(decay(STEPS))
    v[[820, 870, 930]] = [2.0, 1.6, 2.4]
    d = diagnose_runs([make_run("r", series("train/loss", STEPS, v))])
    f = one(d, "curve.unstable")
    assert 930 in f.evidence[0].detail["spike_steps"]
    assert f.evidence[0].detail["largest_spike_step"] == 930


def test_early_spikes_are_not_late_instability():
    v = noisy(decay(STEPS))
    v[[120, 160]] = [4.0, 5.0]
    assert "curve.unstable" not in ids_of(make_run("r", series("train/loss", STEPS, v)))


def test_late_swings_of_the_loss_level_are_instability():
    # an unstable optimizer knocks the model off and it takes steps to recover: the level of the
    # loss itself wanders late (correlated from step to step), beyond what batch sampling gives
    rng = np.random.default_rng(3)
    wander = np.zeros(1000)
    for i in range(700, 1000):
        wander[i] = 0.97 * wander[i - 1] + rng.normal(0, 0.3)
    v = noisy(decay(STEPS)) * np.exp(wander)
    assert "curve.unstable" in ids_of(make_run("r", series("train/loss", STEPS, v)))


def test_independent_batch_noise_growing_late_is_not_instability():
    # per-step losses whose spread grows as the model fits (small batches) average out over a
    # block of steps as batch sampling predicts: the model itself is steady
    v = decay(STEPS) * np.exp(np.random.default_rng(3).normal(0, np.linspace(0.1, 1.2, 1000)))
    assert "curve.unstable" not in ids_of(make_run("r", series("train/loss", STEPS, v)))


def test_ordinary_minibatch_noise_is_not_instability():
    assert "curve.unstable" not in ids_of(healthy_run())


# curve.saturated / curve.still-improving --------------------------------------------------------


def test_a_validation_loss_flat_from_early_on_is_saturated():
    val = decay(EVAL_STEPS, tau=8) + np.random.default_rng(0).normal(0, 0.003, 20)
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, tau=15))),
        series("val/loss", EVAL_STEPS, val),
    )
    d = diagnose_runs([run])
    f = one(d, "curve.saturated")
    assert f.evidence[0].detail["best_position"] <= 0.1
    assert "curve.still-improving" not in d.ids


def test_a_loss_still_falling_at_the_end_is_still_improving():
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, tau=2000))),
        series("val/loss", EVAL_STEPS, decay(EVAL_STEPS, tau=2000, floor=0.25)),
    )
    d = diagnose_runs([run])
    assert one(d, "curve.still-improving").evidence[0].detail["best_position"] >= 0.75
    assert "curve.saturated" not in d.ids


def test_a_curve_that_levels_off_mid_training_is_neither_saturated_nor_still_improving():
    assert ids_of(healthy_run()) & {"curve.saturated", "curve.still-improving"} == set()


# curve.val-better-than-train --------------------------------------------------------------------


def test_validation_clearly_better_than_training_at_the_end_is_reported():
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.5))),
        series("val/loss", EVAL_STEPS, decay(EVAL_STEPS, floor=0.3)),
    )
    f = one(diagnose_runs([run]), "curve.val-better-than-train")
    assert f.evidence[0].detail["error_ratio"] < 0.9


def test_validation_slightly_worse_than_training_is_not_reported():
    assert "curve.val-better-than-train" not in ids_of(healthy_run())


def test_validation_better_only_early_while_training_loss_lags_is_not_reported():
    train = decay(STEPS + 40)  # an epoch-average lags the eval loss early on
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(train)),
        series("val/loss", EVAL_STEPS, decay(EVAL_STEPS + 80, floor=0.21)),
    )
    assert "curve.val-better-than-train" not in ids_of(run)


# evidence ---------------------------------------------------------------------------------------


def test_every_curve_finding_carries_the_run_the_rule_and_its_threshold():
    runs = [
        _overfit_run(),
        make_run("nan", series("train/loss", STEPS, np.where(STEPS > 5, np.nan, 2.3))),
    ]
    d = diagnose_runs(runs)
    assert d.findings
    for f in d.findings:
        for e in f.evidence:
            assert e.how == "curve"
            assert e.detail["run"] in {"over", "nan"}
            assert "rule" in e.detail and "threshold" in e.detail


def test_findings_of_several_runs_merge_per_id_with_one_evidence_per_run():
    runs = [_overfit_run(), _overfit_run()]
    runs[1].name = "over2"
    d = diagnose_runs(runs)
    f = one(d, "curve.overfitting")
    assert {e.detail["run"] for e in f.evidence} == {"over", "over2"}


def test_duplicate_run_names_are_refused():
    with pytest.raises(InvalidArgument, match="unique"):
        diagnose_runs([healthy_run(), healthy_run()])


# curve.val-better-than-train: corroboration -----------------------------------------------------


def _lagging_epoch_run(val_acc_gap: float):
    """Per-epoch logs: the epoch-averaged training loss lags, so validation loss is ~12% lower at
    the end; accuracies differ by ``val_acc_gap``."""
    epochs = np.arange(1, 9) * 150
    train_loss = decay(epochs, floor=0.137, tau=200)
    val_loss = decay(epochs, floor=0.12, tau=180)
    train_acc = np.linspace(0.8, 0.948, epochs.shape[0])
    return make_run(
        "r",
        series("train/loss", epochs, train_loss),
        series("val/loss", epochs, val_loss),
        series("train/acc", epochs, train_acc),
        series("val/acc", epochs, train_acc + val_acc_gap),
    )


def test_a_lower_validation_loss_with_equal_accuracy_is_not_leakage():
    assert "curve.val-better-than-train" not in ids_of(_lagging_epoch_run(0.0))


def test_validation_better_in_both_loss_and_accuracy_is_reported_with_both():
    f = one(diagnose_runs([_lagging_epoch_run(0.03)]), "curve.val-better-than-train")
    assert f.evidence[0].detail["corroborated_by"] == "val/acc"


def test_one_quantity_alone_needs_the_wider_margin():
    epochs = np.arange(1, 9) * 150
    run = make_run(
        "r",
        series("train/loss", epochs, decay(epochs, floor=0.137, tau=200)),
        series("val/loss", epochs, decay(epochs, floor=0.12, tau=180)),
    )
    assert "curve.val-better-than-train" not in ids_of(run)  # 12% better: under 20%


# curve.diverged on the validation loss ----------------------------------------------------------


def test_a_validation_loss_that_turns_nan_for_good_is_divergence():
    # Hugging Face's Trainer filters NaN training losses: the blow-up shows in eval_loss only
    val = decay(EVAL_STEPS, floor=0.3) * 1.0
    val[10:] = np.nan
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS))),
        series("val/loss", EVAL_STEPS, val, original="eval_loss"),
    )
    f = one(diagnose_runs([run]), "curve.diverged")
    assert f.evidence[0].detail["metric"] == "val/loss"


def test_a_validation_loss_rising_threefold_is_overfitting_not_divergence():
    val = np.concatenate([decay(EVAL_STEPS[:6], floor=0.6), np.linspace(0.7, 2.1, 14)])
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.01))),
        series("val/loss", EVAL_STEPS, val),
    )
    found = ids_of(run)
    assert "curve.overfitting" in found and "curve.diverged" not in found


# curve.high-bias at chance level ----------------------------------------------------------------


def _stuck(loss_level: float, acc_level: float):
    return make_run(
        "stuck",
        series("train/loss", STEPS, noisy(np.full(STEPS.shape[0], loss_level), rel=0.01)),
        series("val/loss", EVAL_STEPS, np.full(EVAL_STEPS.shape[0], loss_level)),
        series("val/acc", EVAL_STEPS, np.full(EVAL_STEPS.shape[0], acc_level)),
    )


def test_a_classifier_stuck_at_ln_c_and_chance_accuracy_never_learned():
    for classes in (2, 10):
        d = diagnose_runs([_stuck(np.log(classes), 1.0 / classes)])
        f = one(d, "curve.high-bias")
        assert f.evidence[0].detail["classes"] == classes
        assert d.verdict == "high bias"


def test_a_loss_near_ln_2_with_real_accuracy_is_not_chance_level():
    assert "curve.high-bias" not in ids_of(_stuck(np.log(2), 0.81))
    # and a loss at ln 2 with no accuracy logged could be anything: silent
    run = make_run("r", series("train/loss", STEPS, np.full(STEPS.shape[0], np.log(2))))
    assert "curve.high-bias" not in ids_of(run)


# target error -----------------------------------------------------------------------------------


def test_a_target_error_outside_0_1_is_refused_for_accuracy_errors():
    run = _lagging_epoch_run(0.0)
    with pytest.raises(InvalidArgument, match=r"0\.02"):
        diagnose_runs([run], target_error=2.0)
    with pytest.raises(InvalidArgument, match="negative"):
        diagnose_runs([healthy_run()], target_error=-1)  # loss errors: any level but negative
    assert diagnose_runs([healthy_run()], target_error=2.0).runs[0].breakdown.target_error == 2.0


def test_the_error_metric_is_one_both_train_and_dev_log():
    epochs = np.arange(1, 9) * 100
    run = make_run(
        "r",
        series("train/loss", epochs, decay(epochs)),
        series("val/loss", epochs, decay(epochs, floor=0.3)),
        series("train/acc", epochs, np.linspace(0.5, 0.9, 8)),
        series("test/acc", np.array([800]), np.array([0.85])),
    )
    assert diagnose_runs([run]).runs[0].breakdown.metric == "loss"


# several runs -----------------------------------------------------------------------------------


def test_several_runs_are_ranked_and_keep_their_own_findings():
    good = healthy_run("good")
    stuck = _stuck(np.log(2), 0.5)
    d = diagnose_runs([stuck, good])
    assert d.primary_run == "good"
    assert d.comparison is not None and [r.run for r in d.comparison.ranking] == ["good", "stuck"]
    assert "curve.high-bias" in {f.id for f in d.run("stuck").findings}
    assert "curve.high-bias" not in {f.id for f in d.run("good").findings}


# curve.unstable on per-epoch validation logs ----------------------------------------------------


def _per_epoch(jitter: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    epochs = np.arange(1, 31) * 32
    level = decay(epochs, start=0.7, floor=0.45, tau=150)
    val = level * (1 + jitter * rng.choice([-1.0, 1.0], epochs.shape[0]))
    return make_run(
        "r",
        series("train/loss", epochs, decay(epochs, start=0.7, floor=0.4, tau=150)),
        series("val/loss", epochs, val),
    )


def test_a_validation_loss_swinging_from_epoch_to_epoch_is_unstable():
    f = one(diagnose_runs([_per_epoch(0.14)]), "curve.unstable")
    assert f.evidence[0].detail["metric"] == "val/loss"
    assert diagnose_runs([_per_epoch(0.14)]).verdict == "instability"


@pytest.mark.parametrize("seed", range(3))
def test_a_validation_loss_moving_a_percent_per_epoch_is_stable(seed):
    assert "curve.unstable" not in ids_of(_per_epoch(0.012, seed))


def test_an_overfitting_run_is_not_also_called_saturated():
    from dlpilot.tools.curves.rules import rule_training_length

    val = np.concatenate([[0.9, 0.6], np.linspace(0.62, 2.1, 18)])  # best at 5% of the run
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.01))),
        series("val/loss", EVAL_STEPS, val),
    )
    assert [f.id for f in rule_training_length(run, None, None)] == ["curve.saturated"]
    found = ids_of(run)
    assert "curve.overfitting" in found and "curve.saturated" not in found


def test_the_prior_entropies_of_a_majority_rate_are_those_of_two_classes_above_a_half():
    from dlpilot.tools.curves.rules import prior_entropies

    [(classes, h)] = prior_entropies(0.8)
    assert classes == 2 and h == pytest.approx(-(0.8 * np.log(0.8) + 0.2 * np.log(0.2)))
    uniform = dict(prior_entropies(0.1))
    assert uniform[10] == pytest.approx(np.log(10))


def test_a_flat_loss_at_the_prior_entropy_with_accuracy_at_the_majority_is_high_bias():
    h = -(0.8 * np.log(0.8) + 0.2 * np.log(0.2))
    run = _stuck(h, 0.8)
    d = diagnose_runs([run])
    f = one(d, "curve.high-bias")
    assert f.evidence[0].detail["classes"] == 2 and d.verdict == "high bias"
    assert "curve.saturated" not in d.ids


def test_a_validation_loss_swinging_while_its_accuracy_holds_is_not_unstable():
    epochs = np.arange(20) * 50
    loss = 0.03 + 0.2 * np.exp(-epochs / 150) + np.where(np.arange(20) % 2 == 1, 0.03, 0.0)
    acc = 0.98 + 0.004 * (np.arange(20) % 2)
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.02))),
        series("val/loss", epochs, loss),
        series("val/acc", epochs, acc),
    )
    assert "curve.unstable" not in ids_of(run)
    run.series["val/acc"] = series("val/acc", epochs, acc - 0.05 * (np.arange(20) % 2))
    assert "curve.unstable" in ids_of(run)  # the accuracy swings with it: the model does


def test_a_shifted_dev_set_getting_worse_beside_a_steady_train_dev_is_not_overfitting():
    rising = 0.5 + 0.3 * np.exp(-EVAL_STEPS / 100) + 0.0005 * EVAL_STEPS
    steady = 0.2 + 0.5 * np.exp(-EVAL_STEPS / 100)
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.15), rel=0.05)),
        series("train-dev/loss", EVAL_STEPS, steady),
        series("val/loss", EVAL_STEPS, rising),
    )
    assert "curve.overfitting" not in ids_of(run)
    del run.series["train-dev/loss"]
    assert "curve.overfitting" in ids_of(run)


def test_a_calibrated_model_still_learning_near_its_own_entropy_is_not_at_the_prior():
    epochs = np.arange(6)
    acc = np.array([0.90, 0.907, 0.917, 0.921, 0.925, 0.928])
    loss = np.array([0.34, 0.321, 0.303, 0.287, 0.274, 0.262])
    run = make_run(
        "r",
        series("train/loss", epochs, loss + 0.01),
        series("val/loss", epochs, loss),
        series("val/acc", epochs, acc),
    )
    assert "curve.high-bias" not in ids_of(run)


def test_a_loss_gap_within_the_dev_losss_own_swing_is_not_high_variance():
    epochs = np.arange(20) * 50
    swing = np.where(np.arange(20) % 2 == 1, 0.025, 0.0)
    run = make_run(
        "r",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.03), rel=0.05)),
        series("val/loss", epochs, 0.03 + 0.3 * np.exp(-epochs / 150) + swing),
    )
    assert "curve.high-variance" not in ids_of(run)
    run.series["val/loss"] = series("val/loss", epochs, 0.09 + 0.3 * np.exp(-epochs / 150) + swing)
    assert "curve.high-variance" in ids_of(run)  # a gap three times the swing still counts
