"""The configured peak of each parameter group against real torch schedulers."""

from __future__ import annotations

import pytest

from dlpilot.sandbox.probe._lrtrack import LrTracker

pytestmark = pytest.mark.slow  # imports torch

torch = pytest.importorskip("torch")


def _track(make_sched, steps: int = 30) -> dict[str, object]:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    track = LrTracker()
    track.built(opt)
    sched = make_sched(opt)
    track.scheduler(sched)
    for step in range(1, steps + 1):
        opt.step()
        track.step(opt, step)
        sched.step()
    worst = track.summary(opt)["lr_above_peak"]
    assert isinstance(worst, dict)
    return worst


def test_a_warm_up_factor_without_its_division_climbs_far_above_the_peak() -> None:
    worst = _track(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(s + 1, 100)))
    assert worst["ratio"] == pytest.approx(30.0) and worst["step"] == 30


@pytest.mark.parametrize(
    "make",
    [
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(1.0, (s + 1) / 10)),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=30),
        lambda o: torch.optim.lr_scheduler.CyclicLR(o, base_lr=1e-4, max_lr=0.05, step_size_up=5),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30),
    ],
)
def test_correct_schedules_stay_at_or_below_their_configured_peak(make) -> None:
    assert _track(make)["ratio"] <= 1.0 + 1e-9
