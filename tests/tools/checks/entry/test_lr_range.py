from __future__ import annotations

import math
from pathlib import Path

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.checks.entry import (
    LrRangeResult,
    lr_plot_data,
    lr_range_test,
    plot_lr_range,
)
from dlpilot.tools.checks.entry._lrmath import min_loss_lr, steepest

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "glyph_classifier"
PNG = b"\x89PNG\r\n\x1a\n"


def _synthetic(n: int = 60) -> LrRangeResult:
    """A textbook curve: flat, a descent centred at lr 1e-2, a minimum at 1e-1, then a blow-up."""
    lrs = [1e-5 * 10 ** (6 * i / (n - 1)) for i in range(n)]
    smoothed = []
    for lr in lrs:
        x = math.log10(lr)
        smoothed.append(2.0 - 1.5 / (1 + math.exp(-4 * (x + 2))) + max(0.0, x + 1) ** 2 * 3)
    return LrRangeResult(
        lr_min=lrs[0], lr_max=lrs[-1], steps=n, batch_size=8, lrs=lrs, losses=list(smoothed),
        smoothed=list(smoothed), beta=0.98, diverge_factor=4.0, stopped=None,
        suggestion=steepest(lrs, smoothed), min_loss_lr=min_loss_lr(lrs, smoothed),
        min_loss_lr_div10=None, state_restored=True,
    )  # fmt: skip


def test_the_suggestion_is_the_steepest_descent_of_the_smoothed_loss():
    r = _synthetic()
    assert r.suggestion is not None and 10**-2.2 < r.suggestion < 10**-1.8
    assert r.min_loss_lr is not None and 10**-1.3 < r.min_loss_lr < 10**-0.7


def test_no_descent_gives_no_suggestion():
    lrs = [10 ** (i / 10) for i in range(30)]
    assert steepest(lrs, [1.0 + i for i in range(30)]) is None
    assert steepest(lrs[:5], [1.0] * 5) is None


def test_plot_data_marks_the_suggestion_and_the_png_renders():
    r = _synthetic()
    data = lr_plot_data(r)
    assert data.suggestion is not None and data.suggestion[0] == r.suggestion
    assert len(data.lrs) == len(r.lrs) and data.y_limits is not None
    png = plot_lr_range(r)
    assert png.startswith(PNG) and len(png) > 5000


def test_bad_arguments_are_refused_before_any_child_starts():
    with pytest.raises(InvalidArgument, match="lr_max"):
        lr_range_test(EXAMPLE, lr_min=1.0, lr_max=0.1)
    with pytest.raises(InvalidArgument, match="lr_min must be a positive number"):
        lr_range_test(EXAMPLE, lr_min=0)
    with pytest.raises(InvalidArgument, match="steps"):
        lr_range_test(EXAMPLE, steps=2)


@pytest.mark.slow
def test_the_example_gets_a_sane_suggestion_and_its_state_back():
    r = lr_range_test(EXAMPLE)
    assert r.suggestion is not None and 1e-4 <= r.suggestion <= 1
    assert r.min_loss_lr_div10 is not None and 1e-5 <= r.min_loss_lr_div10 <= 1
    assert r.state_restored
    assert len(r.lrs) == len(r.losses) == len(r.smoothed) <= 100
    assert r.lrs[0] == pytest.approx(1e-7) and all(
        a < b for a, b in zip(r.lrs, r.lrs[1:], strict=False)
    )
    assert plot_lr_range(r).startswith(PNG)


@pytest.mark.slow
def test_a_ramp_into_divergence_stops_early(tmp_path):
    from ._projects import make_project

    make_project(tmp_path)
    table = (tmp_path / "pyproject.toml").read_text().replace("torch.optim:Adam", "torch.optim:SGD")
    (tmp_path / "pyproject.toml").write_text(table)
    r = lr_range_test(tmp_path, lr_min=1e-3, lr_max=1e4, steps=80)
    assert r.stopped in ("diverged", "nonfinite")
    assert len(r.lrs) < 80
    assert r.suggestion is not None and r.suggestion < 1e4


def test_the_suggestion_is_never_taken_from_the_blow_up_past_the_loss_minimum():
    from dlpilot.tools.checks.entry._lrmath import steepest

    lrs = [10 ** (-6 + i * 0.1) for i in range(60)]
    # a gentle descent to the minimum at index 40, then an oscillating blow-up whose one
    # downward swing (index 50 -> 51) is steeper than anything in the descent
    smoothed = [2.0 - 0.02 * i for i in range(41)] + [1.5 + 0.3 * (i - 40) for i in range(41, 60)]
    smoothed[30] = smoothed[29] - 0.1
    smoothed[51] = smoothed[50] - 2.0
    assert min(smoothed) == smoothed[40]
    assert steepest(lrs, smoothed) in (lrs[29], lrs[30])


def test_the_ema_memory_is_a_few_steps_of_the_ramp_not_most_of_it():
    from dlpilot.sandbox.probe.entry._lr import smoothing_beta

    assert smoothing_beta(60) < 0.9
    assert 1 / (1 - smoothing_beta(100)) <= 11
    assert smoothing_beta(10_000) == 0.98
