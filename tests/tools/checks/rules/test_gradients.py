"""The learning-rate rules on hand-written evidence (no torch): the update/weight ratio is judged
over enough optimizer steps and not while the loss falls steadily; a rate above the configured
peak is a schedule mismatch."""

from __future__ import annotations

from pathlib import Path

from dlpilot.tools.checks import Context, ProbeRun, judge_all

CTX = Context(root=Path("/project"))


def _ids(summary: dict[str, object], losses: list[float] | None = None) -> set[str]:
    steps = [{"n": i + 1, "loss": v} for i, v in enumerate(losses or [])]
    run = ProbeRun(start={"ev": "start"}, summary=summary, steps=steps)
    return {f.id for f in judge_all(run, CTX)}


def _ratios(n: int, value: float = -0.7) -> dict[str, object]:
    return {"params": {"ratio": [[i + 1, value, 0.1, 0] for i in range(n)]}}


def test_a_large_update_ratio_over_two_optimizer_steps_is_not_judged() -> None:
    assert "lr.too-high" not in _ids(_ratios(4))  # steps 3 and 4 only after the skipped ones


def test_a_large_update_ratio_over_enough_steps_with_a_jumping_loss_is_too_high() -> None:
    losses = [1.3, 40.0, 12.0, 30.0, 8.0, 25.0, 9.0, 20.0, 11.0, 15.0]
    assert "lr.too-high" in _ids(_ratios(10), losses)


def test_a_large_update_ratio_while_the_loss_falls_steadily_is_not_too_high() -> None:
    losses = [0.35, 0.33, 0.31, 0.31, 0.29, 0.25, 0.22, 0.2, 0.15, 0.13]
    assert "lr.too-high" not in _ids(_ratios(10), losses)


def test_large_updates_of_a_line_search_optimizer_are_not_a_high_rate() -> None:
    # LBFGS picks its step from curvature (lr=1 by default): large updates are its design; the
    # same updates from SGD are judged
    losses = [1.3, 40.0, 12.0, 30.0, 8.0, 25.0, 9.0, 20.0, 11.0, 15.0]
    lbfgs = {**_ratios(10), "optimizers": [{"type": "LBFGS", "steps": 10, "lr": 1.0}]}
    assert "lr.too-high" not in _ids(lbfgs, losses)
    sgd = {**_ratios(10), "optimizers": [{"type": "SGD", "steps": 10, "lr": 1.0}]}
    assert "lr.too-high" in _ids(sgd, losses)


def test_a_loss_that_falls_after_a_jump_above_its_start_is_not_steady() -> None:
    losses = [1.0, 3.0, 2.5, 2.0, 1.5, 1.2, 0.9, 0.8, 0.7, 0.6]
    assert "lr.too-high" in _ids(_ratios(10), losses)


def _opt(ratio: float) -> dict[str, object]:
    worst = {"ratio": ratio, "lr": 0.001 * ratio, "peak": 0.001, "group": 0, "step": 30}
    return {"optimizers": [{"type": "SGD", "steps": 40, "lr_above_peak": worst}]}


def test_a_rate_tens_of_times_the_configured_peak_is_a_schedule_mismatch() -> None:
    assert "lr.schedule-mismatch" in _ids(_opt(30.0))


def test_a_rate_at_or_near_the_configured_peak_is_no_mismatch() -> None:
    assert "lr.schedule-mismatch" not in _ids(_opt(1.0))
    assert "lr.schedule-mismatch" not in _ids(_opt(1.5))
    assert "lr.schedule-mismatch" not in _ids({"optimizers": [{"type": "SGD"}]})
