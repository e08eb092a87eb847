"""The rate's fall within the first epoch against real torch schedulers stepped per batch."""

from __future__ import annotations

import pytest

from dlpilot.sandbox.probe._lrtrack import LrTracker

pytestmark = pytest.mark.slow  # imports torch

torch = pytest.importorskip("torch")


def _fall(make_sched, steps: int = 12) -> float:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    track = LrTracker()
    track.built(opt)
    sched = make_sched(opt)
    for step in range(1, steps + 1):
        opt.step()
        track.step(opt, step, first_epoch=True, epoch_steps=24)
        sched.step()
    drop = track.summary(opt)["lr_drop"]
    return 1.0 if drop is None else float(drop["ratio"])


@pytest.mark.parametrize(
    "make",
    [
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1),
        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 4, 6], gamma=0.1),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.5),
    ],
)
def test_epoch_schedulers_stepped_per_batch_collapse_within_the_first_epoch(make) -> None:
    assert _fall(make) < 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=240),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=240),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.001, total_iters=30),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(1.0, (s + 1) / 10)),
    ],
)
def test_schedules_counted_in_batches_keep_most_of_their_rate_in_the_first_epoch(make) -> None:
    assert _fall(make) > 0.5
