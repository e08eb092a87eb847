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


class ScheduleChecks(RuntimeCheck):
    ids = ("lr.schedule-mismatch",)

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        for o in get(run.summary, "optimizers", default=[]) or []:
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
