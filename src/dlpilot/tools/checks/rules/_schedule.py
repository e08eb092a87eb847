"""Learning-rate schedule rule: the rate a step used against the peak it was configured with
(``lr.schedule-mismatch``)."""

from __future__ import annotations

from collections.abc import Iterable

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get, num
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence

LR_ABOVE_PEAK_FACTOR = 2.0
"""The rate an optimizer step used may exceed the group's configured peak by this factor before
the schedule is called broken. The peak is the largest rate the optimizer and its schedulers were
configured with (constructor ``lr``, ``initial_lr``, OneCycle's ``max_lr``, CyclicLR's
``max_lrs``); correct schedules stay at or below it, so 2x leaves room for float noise and a
deliberate small warm-up overshoot, while a warm-up factor that forgot its division climbs to
tens or hundreds of times the peak within the bounded run."""


LR_COLLAPSE_FACTOR = 0.01
"""A rate used in the first training epoch below this share of the highest rate used before it
in that epoch has collapsed. Schedules counted in batches (OneCycle, warm-up + cosine over the
total steps) lose at most a fraction of their peak in the first epoch of a multi-epoch run; an
epoch-based scheduler (StepLR, MultiStepLR, CosineAnnealingLR(T_max=epochs), ExponentialLR)
stepped per batch loses orders of magnitude there."""


class ScheduleChecks(RuntimeCheck):
    ids = ("lr.schedule-mismatch",)

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        for o in get(run.summary, "optimizers", default=[]) or []:
            drop = get(o, "lr_drop")
            fall = num(get(drop, "ratio")) if isinstance(drop, dict) else None
            if isinstance(drop, dict) and fall is not None and fall < LR_COLLAPSE_FACTOR:
                lr, before, step = num(drop.get("lr")), num(drop.get("before")), drop.get("step")
                length = drop.get("epoch_steps")
                per_epoch = f" of an epoch of {length} batches" if isinstance(length, int) else ""
                yield evidence(
                    ctx,
                    run,
                    "lr.schedule-mismatch",
                    f"{o.get('type')} group {drop.get('group')}'s learning rate fell to "
                    f"{lr or 0:.3g} at step {step}{per_epoch}, {fall:.2g}x the {before or 0:.3g} "
                    "it used earlier in the same first epoch: a scheduler whose length is counted "
                    "in epochs (step_size, milestones, T_max, gamma per epoch) is stepped once per "
                    "batch. Call scheduler.step() once per epoch, or count its length in batches.",
                    step=step if isinstance(step, int) else None,
                    detail={
                        "optimizer": o.get("type"),
                        "group": drop.get("group"),
                        "lr_used": lr,
                        "lr_before": before,
                        "ratio": fall,
                        "epoch_batches": length,
                    },
                )
                continue
            worst = get(o, "lr_above_peak")
            ratio = num(get(worst, "ratio")) if isinstance(worst, dict) else None
            if ratio is None or ratio <= LR_ABOVE_PEAK_FACTOR or not isinstance(worst, dict):
                continue
            lr, peak, step = num(worst.get("lr")), num(worst.get("peak")), worst.get("step")
            if lr is None or peak is None:
                continue
            yield evidence(
                ctx,
                run,
                "lr.schedule-mismatch",
                f"{o.get('type')} group {worst.get('group')} stepped with learning rate {lr:.3g} "
                f"at step {step}, {ratio:.3g}x the peak it was configured with ({peak:.3g}): the "
                "schedule multiplies the rate by a factor above 1 (a warm-up factor that forgot "
                "its division by the warm-up length?).",
                step=step if isinstance(step, int) else None,
                detail={
                    "optimizer": o.get("type"),
                    "group": worst.get("group"),
                    "lr_used": lr,
                    "configured_peak": peak,
                    "ratio": ratio,
                },
            )
