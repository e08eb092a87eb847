"""Training-loop rules: gradients cleared, stepped and back-propagated once per step, loss graphs
released (catalogue section ``loop``)."""

from __future__ import annotations

from collections.abc import Iterable

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence

ZERO_GRAD_MISSING_SHARE = 0.5
"""Share of step → next-backward transitions that kept the previous step's gradients. Any real
accumulation bug keeps them at every transition; a half guards against a one-off (a resumed
gradient, a manual reset pattern) being called a bug."""

ZERO_GRAD_MISPLACED_SHARE = 0.5
"""Share of checked steps whose gradients were cleared after backward and before the step."""

STEP_MISSING_MIN_BACKWARDS = 3
"""Backward calls with no optimizer step and no parameter change before the loop is called
stepless: enough to pass any gradient-accumulation window of the bounded run's first steps."""

DISCARDED_SHARE = 0.5
"""Share of optimizer steps before which several backwards' gradients were reset unused. A step
dedented out of the batch loop does it before every step; a half keeps a one-off (a saliency
pass in validation that calls backward and zero_grad) from being called a bug."""

CLIP_EARLY_SHARE = 0.5
"""Share of clipped optimizer steps whose clip call ran before the step's backward. Clipping in
the wrong place does it at every step; a half keeps a one-off clip (before the first backward, a
clip in a callback) from being called a bug."""

RETAINED_MIN_GRAPHS = 2
"""Loss graphs still alive :data:`RETAIN_AGE_STEPS` steps after they were made (the probe keeps the
constant); one could be a variable holding the last loss, two means an accumulating list or sum."""


class LoopChecks(RuntimeCheck):
    ids = (
        "loop.zero-grad-missing",
        "loop.zero-grad-misplaced",
        "loop.step-missing",
        "loop.backward-twice",
        "loop.loss-graph-retained",
        "loop.clip-before-backward",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        lp = get(run.summary, "loop", default={})
        steps = int(get(run.summary, "steps", default=0))
        backwards = int(get(run.summary, "backwards", default=0))
        transitions = int(get(lp, "transitions", default=0))
        kept = int(get(lp, "not_zeroed", default=0))
        if kept and kept >= ZERO_GRAD_MISSING_SHARE * transitions:
            yield evidence(
                ctx,
                run,
                "loop.zero-grad-missing",
                f"Gradients were not cleared between an optimizer step and the next backward in "
                f"{kept} of {transitions} steps, so each step adds onto the previous gradients. "
                "Call optimizer.zero_grad() once per step, before backward().",
                step=get(lp, "not_zeroed_first_step"),
                where="not_zeroed",
                detail={"steps_accumulated": kept, "steps_checked": transitions},
            )
        checks = int(get(lp, "step_checks", default=0))
        cleared = int(get(lp, "cleared", default=0))
        if cleared and cleared >= ZERO_GRAD_MISPLACED_SHARE * checks:
            yield evidence(
                ctx,
                run,
                "loop.zero-grad-misplaced",
                f"At {cleared} of {checks} checked optimizer steps every gradient was None or zero "
                "although backward() had filled them: gradients are cleared between backward() "
                "and step(). Move zero_grad() before backward() (or after step()).",
                step=get(lp, "cleared_first_step"),
                where="cleared",
                detail={"steps_cleared": cleared, "steps_checked": checks},
            )
        dropped = int(get(lp, "discarded_steps", default=0))
        if dropped and dropped >= DISCARDED_SHARE * max(steps, 1):
            yield evidence(
                ctx,
                run,
                "loop.zero-grad-misplaced",
                f"Before {dropped} of {steps} optimizer steps, gradients that backward() had "
                "filled were cleared again by zero_grad() before any step used them: the "
                "optimizer steps less often than zero_grad() runs (optimizer.step() outside the "
                "batch loop?), so only the last batch's gradient is ever used. Call step() in the "
                "same loop as zero_grad() and backward().",
                step=get(lp, "discarded_first_step"),
                where="discarded",
                detail={"steps_after_discard": dropped, "steps": steps},
            )
        clip = get(run.summary, "clip", default={})
        clipped = int(get(clip, "clipped_steps", default=0))
        early = int(get(clip, "early_steps", default=0))
        if early and early >= CLIP_EARLY_SHARE * clipped:
            yield evidence(
                ctx,
                run,
                "loop.clip-before-backward",
                f"In {early} of {clipped} clipped optimizer steps the gradient clipping call ran "
                "before the backward() that filled the gradients the step used (on cleared or "
                "already-used gradients), so it clipped nothing. Clip after loss.backward() and "
                "before optimizer.step() (after scaler.unscale_() under a GradScaler).",
                step=get(clip, "early_first_step"),
                where="clip_early",
                detail={"early_steps": early, "clipped_steps": clipped},
            )
        manual = get(lp, "manual_update")
        opts = get(run.summary, "optimizers", default=[])
        if steps == 0 and backwards >= STEP_MISSING_MIN_BACKWARDS and manual is not True:
            has_opt = bool(opts) or bool(run.optimizers)
            yield evidence(
                ctx,
                run,
                "loop.step-missing",
                f"backward() ran {backwards} times but "
                + (
                    "no optimizer step followed (optimizer.step() is never called)"
                    if has_opt
                    else "no optimizer step and no parameter update followed"
                )
                + ", so the parameters never change.",
                step=0,
                detail={
                    "backwards": backwards,
                    "optimizer_steps": 0,
                    "optimizers": len(opts) or len(run.optimizers),
                },
            )
        twice = int(get(lp, "backward_twice", default=0))
        if twice:
            yield evidence(
                ctx,
                run,
                "loop.backward-twice",
                f"The same loss graph was back-propagated twice before an optimizer step "
                f"({twice} time(s)); its gradients are added twice. Call backward() once per loss.",
                step=get(lp, "backward_twice_first_step"),
                where="backward_twice",
                detail={"repeats": twice},
            )
        retained = int(get(lp, "retained_max", default=0))
        if retained >= RETAINED_MIN_GRAPHS:
            yield evidence(
                ctx,
                run,
                "loop.loss-graph-retained",
                f"{retained} loss graphs were still alive several optimizer steps after they were "
                "built: losses are kept as tensors (e.g. `total += loss` or a list of losses), so "
                "every graph stays in memory. Accumulate `loss.item()` or `loss.detach()`.",
                step=get(lp, "retained_first_step"),
                detail={"graphs_alive": retained},
            )
