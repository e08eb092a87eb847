"""The playbook's analysis of a round: each finding on a round that must produce it and on one that
must not, the answer per target value, the target assignment, and records of real trainings."""

from __future__ import annotations

import numpy as np
import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.trials._analysis import analyze_round
from dlpilot.tools.trials._answer import assign_targets, round_answer, seed_spread, target_grid

from ._analysis_data import (
    bowl,
    failed,
    log_uniform,
    lr_round,
    make_round,
    real_grid_records,
    scored,
)


def _ids(findings):
    return {f.id for f in findings}


def _one(findings, id_):
    found = [f for f in findings if f.id == id_]
    assert len(found) == 1, [f.id for f in findings]
    return found[0]


def _lr_trials(low, high, n=30, seed=0, best_lr=3e-3, noise=0.01, unstable_above=None):
    """A random round over lr (log) and dropout (no effect): the bowl plus seeded noise."""
    rng = np.random.default_rng(seed)
    out = []
    lrs, drops = log_uniform(rng, low, high, n), rng.uniform(0, 0.5, n)
    for i, (lr, d) in enumerate(zip(lrs, drops, strict=True)):
        p = {"lr": float(lr), "dropout": float(d)}
        if unstable_above is not None and lr > unstable_above:
            out.append(failed(i, "nonfinite", **p))
        else:
            out.append(scored(i, bowl(lr, best_lr, noise=rng.normal(0, noise)), **p))
    return out


# --- trials.best-at-boundary -----------------------------------------------------------------


def test_a_best_learning_rate_at_the_top_of_its_range_is_reported_with_a_wider_range():
    round_ = lr_round(1e-5, 1e-3)  # the optimum (3e-3) lies above the range
    findings, _ = analyze_round(round_, _lr_trials(1e-5, 1e-3))
    f = _one(findings, "trials.best-at-boundary")
    d = f.evidence[0].detail
    assert d["param"] == "lr" and d["edge"] == "high"
    assert d["suggested"] == [1e-5, 1e-2]  # half the span in log space, at most a decade
    assert d["position"] >= 0.9
    assert "lr" in f.message and "high edge" in f.message


def test_a_best_learning_rate_inside_its_range_and_an_irrelevant_parameter_are_not_reported():
    for seed in range(5):
        findings, _ = analyze_round(lr_round(1e-4, 1.0), _lr_trials(1e-4, 1.0, seed=seed))
        assert "trials.best-at-boundary" not in _ids(findings)


def test_a_best_point_at_zero_dropout_suggests_no_range_below_zero():
    round_ = make_round({"dropout": {"type": "float", "low": 0.0, "high": 0.5}})
    rng = np.random.default_rng(3)
    trials = [
        scored(i, 0.2 + 0.3 * d + rng.normal(0, 0.005), dropout=float(d))
        for i, d in enumerate(rng.uniform(0, 0.5, 20))
    ]
    findings, _ = analyze_round(round_, trials)
    assert "trials.best-at-boundary" not in _ids(findings)  # 0 is a natural limit
    trials_high = [t.model_copy(update={"value": 0.5 - (t.value - 0.2)}) for t in trials]
    f = _one(analyze_round(round_, trials_high)[0], "trials.best-at-boundary")
    assert f.evidence[0].detail["edge"] == "high"
    assert f.evidence[0].detail["suggested"] == [0.0, 0.75]


# --- trials.unstable-region ------------------------------------------------------------------


def test_learning_rates_above_a_value_that_diverge_give_that_value():
    trials = _lr_trials(1e-4, 1.0, n=30, unstable_above=0.1)
    findings, _ = analyze_round(lr_round(1e-4, 1.0), trials)
    f = _one(findings, "trials.unstable-region")
    d = f.evidence[0].detail
    assert d["param"] == "lr" and d["side"] == "above"
    assert d["last_stable"] <= 0.1 < d["first_unstable"]
    assert d["last_stable"] < d["value"] < d["first_unstable"]
    assert d["bad_beyond"] == d["trials_beyond"] and d["bad_inside"] == 0
    assert d["p_permutation"] <= 0.01
    assert "trials.best-at-boundary" not in _ids(findings)


def test_runs_collapsed_to_chance_count_as_unstable_like_diverged_ones():
    trials = _lr_trials(1e-4, 1.0, n=30, seed=4)
    rng = np.random.default_rng(4)
    trials = [
        t.model_copy(update={"value": 2.30 + rng.normal(0, 0.01)}) if t.params["lr"] > 0.1 else t
        for t in trials
    ]
    f = _one(analyze_round(lr_round(1e-4, 1.0), trials)[0], "trials.unstable-region")
    assert f.evidence[0].detail["causes"] == {"collapsed": f.evidence[0].detail["bad_beyond"]}


def test_failures_scattered_over_the_range_are_not_an_unstable_region():
    trials = _lr_trials(1e-4, 1.0, n=30, seed=2)
    for i in (1, 8, 15, 22, 29):  # every seventh trial, whatever its learning rate
        trials[i] = failed(i, "nonfinite", **trials[i].params)
    findings, _ = analyze_round(lr_round(1e-4, 1.0), trials)
    assert "trials.unstable-region" not in _ids(findings)


def test_slow_but_training_learning_rates_are_not_collapsed():
    # over six decades, the worst learning rates are several times worse than typical: not chance
    findings, _ = analyze_round(lr_round(1e-6, 1.0), _lr_trials(1e-6, 1.0, n=30, seed=5))
    assert "trials.unstable-region" not in _ids(findings)


# --- trials.infeasible -----------------------------------------------------------------------


def test_a_round_with_many_out_of_memory_trials_is_infeasible_with_its_causes_counted():
    trials = _lr_trials(1e-4, 1.0, n=24, seed=1)
    for i in (2, 5, 9, 13, 17, 21):
        trials[i] = failed(i, "oom", **trials[i].params)
    trials[3] = failed(3, "crashed", **trials[3].params)
    f = _one(analyze_round(lr_round(1e-4, 1.0), trials)[0], "trials.infeasible")
    d = f.evidence[0].detail
    assert d["causes"] == {"oom": 6, "crashed": 1}
    assert d["trials_by_cause"] == {"oom": [2, 5, 9, 13, 17, 21], "crashed": [3]}
    assert d["share"] == pytest.approx(7 / 24, abs=1e-3)
    assert "batch size" in f.message


def test_a_few_failed_trials_are_not_infeasible():
    trials = _lr_trials(1e-4, 1.0, n=24, seed=1)
    for i in (4, 11, 19):  # 12.5%
        trials[i] = failed(i, "oom", **trials[i].params)
    assert "trials.infeasible" not in _ids(analyze_round(lr_round(1e-4, 1.0), trials)[0])


# --- trials.within-noise ---------------------------------------------------------------------


def _with_seeds(best_mean, base_mean, spread=0.01):
    trials = _lr_trials(1e-4, 1.0, n=24, seed=6)
    base = {"lr": 1e-3, "dropout": 0.1}
    trials[0] = scored(0, base_mean, kind="baseline", **base)
    best = min(trials[1:], key=lambda t: t.value)
    trials[best.number] = best.model_copy(update={"value": best_mean})
    n = len(trials)
    for j, off in enumerate((-spread, spread)):
        trials.append(scored(n + j, base_mean + off, kind="seed-rerun", **base))
        trials.append(scored(n + 2 + j, best_mean - off, kind="seed-rerun", **best.params))
    return trials


def test_an_improvement_smaller_than_the_seed_spread_is_within_noise():
    trials = _with_seeds(best_mean=0.170, base_mean=0.176)
    assert seed_spread(trials) == pytest.approx(0.01)
    f = _one(analyze_round(lr_round(1e-4, 1.0), trials)[0], "trials.within-noise")
    d = f.evidence[0].detail
    assert d["improvement"] == pytest.approx(0.006, abs=1e-4)
    assert d["seed_spread"] == pytest.approx(0.01)
    assert d["baseline_trial"] == 0 and len(d["best_runs"]) == 3


def test_an_improvement_larger_than_the_seed_spread_is_not_within_noise():
    trials = _with_seeds(best_mean=0.150, base_mean=0.190)
    assert "trials.within-noise" not in _ids(analyze_round(lr_round(1e-4, 1.0), trials)[0])


def test_without_seed_reruns_there_is_no_within_noise_verdict():
    trials = _lr_trials(1e-4, 1.0, n=24)
    trials[0] = scored(0, 0.171, kind="baseline", lr=1e-3, dropout=0.1)
    findings, answer = analyze_round(lr_round(1e-4, 1.0), trials)
    assert "trials.within-noise" not in _ids(findings) and answer.seed_spread is None


# --- trials.sparse ---------------------------------------------------------------------------


def test_six_trials_for_two_parameters_are_sparse_and_twenty_are_not():
    f = _one(analyze_round(lr_round(1e-4, 1.0), _lr_trials(1e-4, 1.0, n=6))[0], "trials.sparse")
    assert f.evidence[0].detail["needed"] == 10 and f.evidence[0].detail["explored"] == 6
    assert "trials.sparse" not in _ids(analyze_round(lr_round(), _lr_trials(1e-4, 1.0, n=20))[0])


def test_a_target_value_with_too_few_trials_of_its_own_is_sparse():
    round_ = _optimizer_round()
    trials = _optimizer_trials({"adam": 12, "sgd": 3})
    f = _one(analyze_round(round_, trials)[0], "trials.sparse")
    assert f.evidence[0].detail["short_target_values"] == {"optimizer=sgd": 3}
    trials = _optimizer_trials({"adam": 6, "sgd": 6})
    assert "trials.sparse" not in _ids(analyze_round(round_, trials)[0])


# --- trials.no-progress ----------------------------------------------------------------------


def test_a_tpe_round_whose_best_came_early_shows_no_progress():
    trials = _lr_trials(1e-4, 1.0, n=24, seed=8)
    trials[2] = trials[2].model_copy(update={"value": 0.12})  # found early, never beaten
    f = _one(analyze_round(lr_round(sampler="tpe"), trials)[0], "trials.no-progress")
    d = f.evidence[0].detail
    assert d["best_trial"] == 2 and d["tail_trials"] == list(range(12, 24))


def test_a_tpe_round_still_improving_at_the_end_shows_progress():
    trials = _lr_trials(1e-4, 1.0, n=24, seed=8)
    trials[22] = trials[22].model_copy(update={"value": 0.12})
    assert "trials.no-progress" not in _ids(analyze_round(lr_round(sampler="tpe"), trials)[0])


def test_a_random_round_is_not_judged_on_progress():
    trials = _lr_trials(1e-4, 1.0, n=24, seed=8)
    trials[2] = trials[2].model_copy(update={"value": 0.12})
    assert "trials.no-progress" not in _ids(analyze_round(lr_round(sampler="qmc"), trials)[0])


# --- the answer per target value -------------------------------------------------------------


def _optimizer_round(**fields):
    return make_round(
        {
            "optimizer": {"role": "target", "type": "categorical", "choices": ["adam", "sgd"]},
            "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        },
        **fields,
    )


def _optimizer_trials(counts, sgd_penalty=0.05, seed=0):
    rng = np.random.default_rng(seed)
    out, n = [], 0
    for opt, k in counts.items():
        for lr in log_uniform(rng, 1e-4, 1.0, k):
            pen = sgd_penalty if opt == "sgd" else 0.0
            v = bowl(lr, 3e-3 if opt == "adam" else 3e-2, noise=rng.normal(0, 0.003)) + pen
            out.append(scored(n, v, optimizer=opt, lr=float(lr)))
            n += 1
    return out


def test_the_answer_gives_the_best_trial_per_target_value_and_whether_it_beats_the_noise():
    trials = _optimizer_trials({"adam": 10, "sgd": 10})
    best = {
        o: min((t for t in trials if t.params["optimizer"] == o), key=lambda t: t.value)
        for o in ("adam", "sgd")
    }
    n = len(trials)
    reruns = [
        scored(n, best["adam"].value + 0.004, kind="seed-rerun", **best["adam"].params),
        scored(n + 1, best["adam"].value - 0.004, kind="seed-rerun", **best["adam"].params),
    ]
    _, answer = analyze_round(_optimizer_round(), trials + reruns)
    rows = {r.value: r for r in answer.per_value}
    assert answer.targets == ["optimizer"]
    for opt in ("adam", "sgd"):
        assert rows[opt].best_trial == best[opt].number
        assert rows[opt].best_value == best[opt].value
        assert rows[opt].trials == 10  # seed re-runs repeat a configuration: not counted
    assert answer.seed_spread == pytest.approx(0.004, rel=0.2)
    assert answer.exceeds_noise is True
    assert "optimizer=adam" in answer.text and "the difference is real" in answer.text


def test_a_lead_smaller_than_the_seed_spread_does_not_exceed_the_noise():
    trials = _optimizer_trials({"adam": 10, "sgd": 10}, sgd_penalty=0.0, seed=2)
    n = len(trials)
    p = trials[0].params
    reruns = [scored(n + i, 0.3 + off, kind="seed-rerun", **p) for i, off in enumerate((-0.1, 0.1))]
    trials[0] = trials[0].model_copy(update={"value": 0.3})
    answer = round_answer(_optimizer_round(), trials + reruns, seed_spread(trials + reruns))
    assert answer.exceeds_noise is False and "not yet distinguishable" in answer.text


def test_a_continuous_target_is_answered_along_its_axis_in_bins():
    round_ = make_round(
        {"lr": {"role": "target", "type": "float", "low": 1e-4, "high": 1.0, "log": True}}
    )
    trials = [t.model_copy(update={"params": {"lr": t.params["lr"]}}) for t in _lr_trials(1e-4, 1)]
    answer = round_answer(round_, trials)
    assert [r.value for r in answer.per_value] == pytest.approx(
        [10**-3.6, 10**-2.8, 10**-2.0, 10**-1.2, 10**-0.4], rel=0.01
    )
    assert sum(r.trials for r in answer.per_value) == 30
    best = min(trials, key=lambda t: t.value)
    assert best.number in {r.best_trial for r in answer.per_value}
    assert "along its axis" in answer.text and answer.exceeds_noise is None


# --- spreading trials over the target values -------------------------------------------------


def test_the_target_grid_is_every_combination_of_few_valued_targets():
    round_ = make_round(
        {
            "opt": {"role": "target", "type": "categorical", "choices": ["adam", "sgd"]},
            "depth": {"role": "target", "type": "int", "low": 2, "high": 4},
            "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        }
    )
    grid = target_grid(round_)
    assert grid is not None and len(grid) == 6
    assert grid[0] == {"opt": "adam", "depth": 2} and grid[-1] == {"opt": "sgd", "depth": 4}
    assert target_grid(lr_round()) is None  # no target
    continuous = make_round({"lr": {"role": "target", "type": "float", "low": 1e-4, "high": 1.0}})
    assert target_grid(continuous) is None and assign_targets(continuous, 5) == []


def test_assigned_targets_are_balanced_and_resume_where_a_round_stopped():
    round_ = _optimizer_round()
    first = assign_targets(round_, 5)
    assert [a["optimizer"] for a in first] == ["adam", "sgd", "adam", "sgd", "adam"]
    done = [{"optimizer": "adam", "lr": 0.01}] * 3 + [{"optimizer": "sgd", "lr": 0.1}]
    assert [a["optimizer"] for a in assign_targets(round_, 3, done)] == ["sgd", "sgd", "adam"]
    with pytest.raises(InvalidArgument, match="-1"):
        assign_targets(round_, -1)


# --- curves of the top trials ----------------------------------------------------------------


def test_the_curves_of_the_top_trials_are_diagnosed_and_name_their_trial():
    records, curves = real_grid_records(seed=0)
    round_ = make_round(
        {
            "lr": {"role": "target", "type": "float", "low": 1e-3, "high": 3.0, "log": True},
            "width": {"type": "categorical", "choices": [8, 16, 32, 64, 128, 256]},
        }
    )
    findings, _ = analyze_round(round_, records, curves)
    curve = [f for f in findings if f.id.startswith("curve.")]
    assert curve, [f.id for f in findings]
    top = sorted((t for t in records if t.value is not None), key=lambda t: t.value)[:3]
    for f in curve:
        for e in f.evidence:
            assert e.detail["trial"] in {t.number for t in top}
            assert e.detail["run"] == f"trial-{e.detail['trial']}"
    assert not any(f.id.startswith("curve.") for f in analyze_round(round_, records)[0])


# --- records of real trainings ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_real_trainings_that_collapse_at_high_learning_rates_give_an_unstable_region(seed):
    """MLPs on the digits at 8 learning rates x 6 widths (recorded): from lr 0.3 on they end at
    chance level (loss ~2.3) or go non-finite; the widths make no such split."""
    records, _ = real_grid_records(seed)
    round_ = make_round(
        {
            "lr": {"role": "target", "type": "float", "low": 1e-3, "high": 3.0, "log": True},
            "width": {"type": "categorical", "choices": [8, 16, 32, 64, 128, 256]},
        }
    )
    findings, answer = analyze_round(round_, records)
    f = _one(findings, "trials.unstable-region")
    assert [e.detail["param"] for e in f.evidence] == ["lr"]
    d = f.evidence[0].detail
    assert d["side"] == "above" and d["last_stable"] == 0.1 and d["first_unstable"] == 0.3
    assert "trials.best-at-boundary" not in _ids(findings)
    best_bin = min((r for r in answer.per_value if r.best_value), key=lambda r: r.best_value)
    assert 0.003 < best_bin.value < 0.3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_take_best_the_curves_show_the_runs_that_blew_up_after_a_good_start(seed):
    """Scored at their best point, the lr 0.3 runs look fine (0.5-1.1 before they blow up) and
    the slow lr 0.001 runs fill the gap up to chance level: the values alone show no region. The
    training curves do: lr >= 0.3 ends above its start (diverged) or where it started."""
    records, curves = real_grid_records(seed, take="best")
    round_ = make_round(
        {
            "lr": {"role": "target", "type": "float", "low": 1e-3, "high": 3.0, "log": True},
            "width": {"type": "categorical", "choices": [8, 16, 32, 64, 128, 256]},
        }
    )
    assert "trials.unstable-region" not in _ids(analyze_round(round_, records)[0])
    f = _one(analyze_round(round_, records, curves)[0], "trials.unstable-region")
    d = f.evidence[0].detail
    assert (d["param"], d["side"], d["last_stable"], d["first_unstable"]) == (
        "lr",
        "above",
        0.1,
        0.3,
    )
    assert d["bad_inside"] == 0 and set(d["causes"]) <= {"diverged", "collapsed", "nonfinite"}
    assert d["causes"].get("diverged", 0) >= 5  # the lr 0.3 runs


def test_curve_verdicts_tell_collapse_and_divergence_from_slow_training_and_overfitting():
    from dlpilot.tools.curves._model import Run, Series
    from dlpilot.tools.trials._stability import _curve_verdict

    steps = np.arange(0, 400, 10, dtype=np.int64)

    def run(train, val=None):
        r = Run(name="r", source="memory", format="synthetic")
        r.series["train/loss"] = Series("train/loss", "train/loss", steps, np.asarray(train))
        if val is not None:
            r.series["val/loss"] = Series("val/loss", "val/loss", steps, np.asarray(val))
        return r

    falling = 2.3 * np.exp(-steps / 80) + 0.05
    slow = 2.3 - 0.002 * steps
    assert _curve_verdict(run(falling), "val/loss") == ""
    assert _curve_verdict(run(slow), "val/loss") == ""  # slow, but it learns
    overfit_val = 0.3 + 0.001 * steps
    assert _curve_verdict(run(falling, overfit_val), "val/loss") == ""
    assert _curve_verdict(run(np.full(steps.shape, 2.30) + 0.01), "val/loss") == "collapsed"
    assert _curve_verdict(run(0.8 + 0.004 * steps), "val/loss") == "diverged"
    assert _curve_verdict(run(np.where(steps > 200, np.nan, falling)), "val/loss") == "nonfinite"
    assert _curve_verdict(None, "val/loss") == ""


def test_a_round_without_finished_trials_is_analysed_and_says_so():
    from dlpilot.tools.trials import TrialRecord

    running = [TrialRecord(number=0, state="running", params={"lr": 0.01, "dropout": 0.1})]
    crashed = [failed(i, "crashed", lr=0.01, dropout=0.1) for i in range(5)]
    for trials in ([], running, crashed):
        findings, answer = analyze_round(lr_round(), trials)
        assert {"trials.best-at-boundary", "trials.unstable-region"} & _ids(findings) == set()
        assert "No trial has a value yet" in answer.text
    assert "trials.infeasible" in _ids(analyze_round(lr_round(), crashed)[0])


def test_enqueued_target_values_are_kept_and_the_sampler_tunes_the_nuisance_ones():
    import optuna

    round_ = _optimizer_round()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for values in assign_targets(round_, 6):
        study.enqueue_trial(values)
    seen = []
    for _ in range(6):
        trial = study.ask()
        opt = trial.suggest_categorical("optimizer", ["adam", "sgd"])
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        seen.append((opt, lr))
        study.tell(trial, bowl(lr))
    assert [o for o, _ in seen] == ["adam", "sgd"] * 3
    assert len({lr for _, lr in seen}) == 6  # each its own learning rate
