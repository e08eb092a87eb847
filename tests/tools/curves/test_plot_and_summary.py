"""PlotData (panels, log-scale choice, downsampling bound), the PNG, summaries and comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.curves import compare_runs, summarize_run, summarize_runs
from dlpilot.tools.curves._plot import MAX_LINE_POINTS, OKABE_ITO, plot_data, plot_runs

from ._synthetic import EVAL_STEPS, STEPS, decay, healthy_run, make_run, noisy, series


def _full_run(n: int = 50_000):
    steps = np.arange(n)
    return make_run(
        "big",
        series("train/loss", steps, noisy(decay(steps, start=3.0, floor=0.001, tau=n / 8))),
        series("val/loss", steps[:: n // 20], decay(steps[:: n // 20], floor=0.002, tau=n / 8)),
        series("train/acc", steps[:: n // 20], np.linspace(0.1, 0.99, 20)),
        series("val/acc", steps[:: n // 20], np.linspace(0.1, 0.97, 20)),
        series("lr", steps, np.full(n, 1e-3)),
    )


def test_train_and_val_of_a_quantity_share_one_panel_loss_first_lr_last():
    data = plot_data([_full_run()])
    assert [p.quantity for p in data.panels] == ["loss", "acc", "lr"]
    assert {ln.metric for ln in data.panels[0].lines} == {"train/loss", "val/loss"}


def test_counters_and_throughput_get_no_panel():
    run = _full_run(2_000)
    for name in ("epoch", "val/runtime", "val/samples_per_second", "total_flos"):
        run.series[name] = series(name, EVAL_STEPS, np.ones(EVAL_STEPS.shape[0]))
    assert [p.quantity for p in plot_data([run]).panels] == ["loss", "acc", "lr"]


def test_every_line_is_downsampled_to_the_bound_and_keeps_its_spike():
    run = _full_run()
    run.series["train/loss"].values[31_234] = 50.0
    data = plot_data([run])
    for p in data.panels:
        for ln in p.lines:
            assert len(ln.x) <= MAX_LINE_POINTS and len(ln.x) == len(ln.y)
    train = data.panels[0].lines[[ln.metric for ln in data.panels[0].lines].index("train/loss")]
    assert train.total_points == 50_000 and 50.0 in train.y


def test_a_loss_spanning_more_than_two_decades_gets_a_log_axis_and_a_narrow_one_does_not():
    assert plot_data([_full_run()]).panels[0].log_y is True
    assert plot_data([healthy_run()]).panels[0].log_y is False
    assert plot_data([_full_run()], log_y=False).panels[0].log_y is False
    assert plot_data([healthy_run()], log_y=True).panels[0].log_y is True


def test_a_forced_log_axis_is_refused_for_losses_that_go_negative():
    run = make_run("r", series("train/loss", STEPS, decay(STEPS, floor=-1.0)))
    assert plot_data([run], log_y=True).panels[0].log_y is False


def test_accuracy_is_never_on_a_log_axis():
    assert plot_data([_full_run()], log_y=True).panels[1].log_y is False


def test_non_finite_points_are_dropped_and_the_first_is_marked():
    v = noisy(decay(STEPS))
    v[600:] = np.nan
    [panel] = plot_data([make_run("r", series("train/loss", STEPS, v))]).panels
    [ln] = panel.lines
    assert ln.first_nonfinite_step == 600 and all(np.isfinite(ln.y)) and max(ln.x) < 600


def test_colours_come_from_the_colour_blind_safe_palette_one_per_run():
    a, b = healthy_run("a"), healthy_run("b", seed=1)
    lines = plot_data([a, b]).panels[0].lines
    assert {ln.colour for ln in lines} <= set(OKABE_ITO)
    assert len({ln.colour for ln in lines if ln.run == "a"}) == 1
    assert {ln.colour for ln in lines if ln.run == "a"} != {
        ln.colour for ln in lines if ln.run == "b"
    }
    assert {ln.style for ln in lines if ln.run == "a"} == {"-", "--"}


def test_metrics_select_series_and_an_unknown_metric_names_what_exists():
    data = plot_data([_full_run()], metrics=["val/loss", "lr"])
    assert [[ln.metric for ln in p.lines] for p in data.panels] == [["val/loss"], ["lr"]]
    with pytest.raises(InvalidArgument, match="train/loss"):
        plot_data([_full_run()], metrics=["bleu"])


def test_plot_runs_returns_a_png_of_decent_size():
    png = plot_runs([_full_run(), healthy_run()])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 20_000


def test_summaries_give_first_last_best_and_where_the_best_lies():
    s = summarize_run(healthy_run())
    val = s.metric("val/loss")
    assert val is not None and val.points == EVAL_STEPS.shape[0] and val.goal == "min"
    assert val.best_step is not None and val.best_position is not None
    assert val.best_value == min(healthy_run().get("val/loss").values)
    assert val.first_step == 0 and val.last_step == 950
    train = s.metric("train/loss")
    assert train is not None and train.late_step_std is not None and train.late_step_std > 0


def test_a_summary_counts_non_finite_points_and_their_first_step():
    v = decay(STEPS)
    v[[10, 20]] = [np.nan, np.inf]
    m = summarize_run(make_run("r", series("train/loss", STEPS, v))).metrics[0]
    assert m.nonfinite_points == 2 and m.first_nonfinite_step == 10


def test_compare_runs_ranks_by_best_value_and_lists_runs_without_the_metric():
    good = healthy_run("good")
    bad = healthy_run("bad")
    bad.series["val/loss"].values = bad.series["val/loss"].values + 0.5
    empty = make_run("empty", series("train/loss", STEPS, decay(STEPS)))
    cmp = compare_runs([bad, good, empty], "loss")
    assert [r.run for r in cmp.ranking] == ["good", "bad"]
    assert cmp.ranking[0].metric == "val/loss" and cmp.missing == ["empty"]
    with pytest.raises(InvalidArgument, match="wobble"):
        compare_runs([good], "wobble")


def test_summarize_runs_bounds_points_per_series_and_keeps_nan_as_none():
    run = _full_run()
    run.series["train/loss"].values[40_000:] = np.nan
    view = summarize_runs([run], points=100)
    for s in view.runs[0].series:
        assert len(s.steps) <= 100 and len(s.steps) == len(s.values)
    tl = next(s for s in view.runs[0].series if s.name == "train/loss")
    assert tl.total_points == 50_000 and None in tl.values
    assert tl.steps[tl.values.index(None)] == 40_000
    with pytest.raises(InvalidArgument):
        summarize_runs([run], points=1)


# marks: what a finding points at ------------------------------------------------------------------


def _overfit_run():
    val = 0.3 + 0.5 * np.exp(-EVAL_STEPS / 150) + 0.0004 * np.maximum(EVAL_STEPS - 400, 0)
    return make_run(
        "overfit",
        series("train/loss", STEPS, noisy(decay(STEPS, floor=0.01), rel=0.05)),
        series("val/loss", EVAL_STEPS, val),
    )


def test_an_overfitting_run_is_marked_at_its_best_validation_step():
    from dlpilot.tools.curves import diagnose_runs

    run = _overfit_run()
    [f] = [f for f in diagnose_runs([run]).findings if f.id == "curve.overfitting"]
    marks = plot_data([run]).marks
    assert [(m.kind, m.step, m.finding) for m in marks] == [
        ("best-validation", f.evidence[0].detail["best_step"], "curve.overfitting")
    ]


def test_a_resume_point_and_a_divergence_are_marked_and_a_healthy_run_has_no_mark():
    from dlpilot.tools.curves._model import Run
    from dlpilot.tools.curves.readers._base import SeriesBuilder

    b = SeriesBuilder()
    b.add(
        "loss", [*range(0, 600), *range(500, 1000)], [*decay(range(600)), *decay(range(500, 1000))]
    )
    resumed = b.build(Run("resumed", "memory", "jsonl"))
    assert [(m.kind, m.step) for m in plot_data([resumed]).marks] == [("resumed", 500)]

    v = decay(STEPS)
    v[700:] = v[699] * np.exp(np.linspace(0, 4, 300))  # blows up from step 700
    marks = plot_data([make_run("diverged", series("train/loss", STEPS, v))]).marks
    assert ("diverged", "curve.diverged") in {(m.kind, m.finding) for m in marks}
    assert 650 <= next(m.step for m in marks if m.kind == "diverged") <= 720

    assert plot_data([healthy_run()]).marks == []


def test_marks_come_from_given_findings_and_are_drawn(tmp_path):
    from dlpilot.tools.curves import diagnose_runs

    run = _overfit_run()
    findings = diagnose_runs([run]).findings
    data = plot_data([run], findings=[f for f in findings if f.id != "curve.overfitting"])
    assert data.marks == []
    png = plot_runs([run])
    assert png.startswith(b"\x89PNG")
