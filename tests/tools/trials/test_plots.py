"""The round's plots: the data checked first (axis plots, progress, importances, top curves), then
the PNGs drawn from it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlpilot.tools.trials._plots import (
    importances,
    plot_round_data,
    render_round_plots,
    render_round_pngs,
)

from ._analysis_data import (
    bowl,
    failed,
    log_uniform,
    lr_round,
    make_round,
    real_grid_records,
    scored,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _trials(n=24, seed=0, unstable_above=0.1):
    rng = np.random.default_rng(seed)
    out = []
    for i, (lr, d) in enumerate(
        zip(log_uniform(rng, 1e-4, 1.0, n), rng.uniform(0, 0.5, n), strict=True)
    ):
        p = {"lr": float(lr), "dropout": float(d)}
        if lr > unstable_above:
            out.append(failed(i, "nonfinite", **p))
        else:
            out.append(scored(i, bowl(lr, noise=rng.normal(0, 0.005)) + 0.02 * d, **p))
    return out


def test_axis_plots_show_every_finished_trial_with_infeasible_ones_on_the_worst_edge():
    trials = _trials()
    trials.append(scored(99, math.nan, lr=0.5, dropout=0.1))  # completed with a nan objective
    data = plot_round_data(lr_round(), trials, with_importances=False)
    assert [p.param for p in data.axes] == ["lr", "dropout"]
    lr = data.axes[0]
    assert lr.log_x and not data.axes[1].log_x and lr.x_range == (1e-4, 1.0)
    assert len(lr.points) == len(trials)
    bad = [pt for pt in lr.points if pt.kind == "infeasible"]
    good = [pt.y for pt in lr.points if pt.kind == "complete"]
    assert {pt.trial for pt in bad} == {t.number for t in trials if t.value is None} | {99}
    assert all(pt.y == lr.infeasible_y > max(good) for pt in bad)  # minimize: the top edge
    best = min(
        (t for t in trials if t.value is not None and t.value == t.value), key=lambda t: t.value
    )
    assert [pt.trial for pt in lr.points if pt.best] == [best.number]


def test_a_maximized_objective_puts_infeasible_trials_at_the_bottom_and_categories_in_order():
    round_ = make_round(
        {
            "opt": {"role": "target", "type": "categorical", "choices": ["sgd", "adam"]},
            "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        },
        objective={"metric": "val/acc", "direction": "maximize"},
    )
    trials = [
        scored(0, 0.91, opt="adam", lr=1e-3),
        scored(1, 0.88, opt="sgd", lr=1e-2),
        failed(2, "oom", opt="adam", lr=1e-1),
    ]
    panel = plot_round_data(round_, trials, with_importances=False).axes[0]
    assert panel.categories == ["sgd", "adam"] and panel.x_range is None
    assert {pt.trial: pt.x for pt in panel.points} == {0: 1.0, 1: 0.0, 2: 1.0}
    assert panel.infeasible_y is not None and panel.infeasible_y < 0.88


def test_progress_is_the_best_value_so_far_in_trial_order():
    trials = [scored(i, v, lr=1e-3, dropout=0.1) for i, v in enumerate([0.5, 0.4, 0.45, 0.3])]
    trials.append(scored(4, 0.1, kind="seed-rerun", lr=1e-3, dropout=0.1))  # not a search point
    pr = plot_round_data(lr_round(), trials, with_importances=False).progress
    assert pr is not None and pr.trials == [0, 1, 2, 3]
    assert pr.best_so_far == [0.5, 0.4, 0.4, 0.3]


def test_importances_single_out_the_parameter_that_moves_the_objective():
    found = importances(lr_round(), _trials(n=40, seed=1, unstable_above=10.0))
    assert found is not None and set(found) == {"lr", "dropout"}
    assert next(iter(found)) == "lr" and found["lr"] > 3 * found["dropout"]


def test_importances_need_enough_trials_and_two_varied_parameters():
    assert importances(lr_round(), _trials(n=6, unstable_above=10.0)) is None
    assert importances(lr_round(dropout=False), _trials(n=30, unstable_above=10.0)) is None


def test_a_trial_outside_the_search_space_is_left_out_of_the_importances():
    trials = _trials(n=30, seed=2, unstable_above=10.0)
    trials.append(scored(77, 0.01, kind="baseline", lr=5.0, dropout=0.1))  # an older range
    assert importances(lr_round(), trials) is not None


@pytest.mark.slow
def test_the_top_trials_curves_are_drawn_from_real_runs_and_every_plot_is_a_png(tmp_path):
    records, curves = real_grid_records(seed=0)
    round_ = make_round(
        {
            "lr": {"role": "target", "type": "float", "low": 1e-3, "high": 3.0, "log": True},
            "width": {"type": "categorical", "choices": [8, 16, 32, 64, 128, 256]},
        }
    )
    data = plot_round_data(round_, records, curves)
    assert data.curves is not None
    top = sorted((t for t in records if t.value is not None), key=lambda t: t.value)[:5]
    assert {ln.run for p in data.curves.panels for ln in p.lines} == {
        f"trial-{t.number}" for t in top
    }
    assert data.importances is not None and next(iter(data.importances)) == "lr"
    pngs = render_round_pngs(data)
    assert set(pngs) == {"axes", "progress", "curves", "importances"}
    assert all(b.startswith(PNG_MAGIC) for b in pngs.values())
    paths = render_round_plots(round_, records, tmp_path / "plots", curves)
    assert sorted(p.name for p in paths) == sorted(f"test-round-{k}.png" for k in pngs)
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths)
