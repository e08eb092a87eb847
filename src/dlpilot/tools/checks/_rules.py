"""Runtime rules: the probe's evidence in, findings out. Pure functions of a :class:`ProbeRun`.

Each rule is a small :class:`RuntimeCheck` with the ids it may report and a ``judge`` method. The
thresholds are named constants next to the rule that uses them; where ``shared/checks.md`` publishes
one (in brackets there) it is used as published, otherwise the chosen value and its reason are
written beside it. The probe records raw statistics; every decision is made here, so these rules
are tested on hand-written evidence as well as on real runs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import JsonValue

from dlpilot.findings import Finding, finding

from ._evidence import ProbeRun, get, num


@dataclass
class Context:
    """What a rule needs besides the evidence: the project root, to make paths relative."""

    root: Path

    def rel(self, path: str | None) -> str | None:
        if not path:
            return None
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            return p.as_posix()


def _ev(
    ctx: Context,
    run: ProbeRun,
    id_: str,
    message: str,
    *,
    step: int | None = None,
    where: str | None = None,
    detail: dict[str, JsonValue] | None = None,
) -> Finding:
    """A runtime finding; ``where`` names an entry of the probe's user-code locations."""
    file = line = None
    loc = get(run.summary, "where", where) if where else None
    if isinstance(loc, list) and len(loc) == 2:
        file, line = ctx.rel(str(loc[0])), int(loc[1]) if isinstance(loc[1], int) else None
    return finding(
        id_,
        message,
        how="runtime",
        file=file,
        line=line if line and line >= 1 else None,
        step=step if step is not None and step >= 0 else None,
        detail=detail or {},
    )


class RuntimeCheck(ABC):
    """A runtime rule. ``ids`` lists every finding id it may report; ``judge`` must not raise on
    missing evidence (a crashed or partial run): it reports nothing it cannot show."""

    ids: ClassVar[tuple[str, ...]]

    @abstractmethod
    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]: ...


# --- training loop ------------------------------------------------------------------------------

ZERO_GRAD_MISSING_SHARE = 0.5
"""Share of step → next-backward transitions that kept the previous step's gradients. Any real
accumulation bug keeps them at every transition; a half guards against a one-off (a resumed
gradient, a manual reset pattern) being called a bug."""

ZERO_GRAD_MISPLACED_SHARE = 0.5
"""Share of checked steps whose gradients were cleared after backward and before the step."""

STEP_MISSING_MIN_BACKWARDS = 3
"""Backward calls with no optimizer step and no parameter change before the loop is called
stepless: enough to pass any gradient-accumulation window of the bounded run's first steps."""

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
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        lp = get(run.summary, "loop", default={})
        steps = int(get(run.summary, "steps", default=0))
        backwards = int(get(run.summary, "backwards", default=0))
        transitions = int(get(lp, "transitions", default=0))
        kept = int(get(lp, "not_zeroed", default=0))
        if kept and kept >= ZERO_GRAD_MISSING_SHARE * transitions:
            yield _ev(
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
            yield _ev(
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
        manual = get(lp, "manual_update")
        opts = get(run.summary, "optimizers", default=[])
        if steps == 0 and backwards >= STEP_MISSING_MIN_BACKWARDS and manual is not True:
            has_opt = bool(opts) or bool(run.optimizers)
            yield _ev(
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
            yield _ev(
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
            yield _ev(
                ctx,
                run,
                "loop.loss-graph-retained",
                f"{retained} loss graphs were still alive several optimizer steps after they were "
                "built: losses are kept as tensors (e.g. `total += loss` or a list of losses), so "
                "every graph stays in memory. Accumulate `loss.item()` or `loss.detach()`.",
                step=get(lp, "retained_first_step"),
                detail={"graphs_alive": retained},
            )


# --- train / eval mode --------------------------------------------------------------------------


def _val_buckets(run: ProbeRun) -> list[dict[str, Any]]:
    """Forward passes of a trained model that are evaluation: in a loader whose batches are never
    followed by backward, or (without a loader) under no_grad / inference_mode."""
    out = []
    for b in get(run.summary, "buckets", default=[]):
        if not b.get("trained"):
            continue
        if (b.get("ctx") is not None and b.get("ctx_kind") == "val") or (
            b.get("ctx") is None and b.get("grad_ctx") is False
        ):
            out.append(b)
    return out


class ModeChecks(RuntimeCheck):
    ids = ("mode.eval-during-training", "mode.train-during-eval", "mode.eval-grad-enabled")

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        mode = get(run.summary, "mode", default={})
        bad = int(get(mode, "eval_backwards", default=0))
        total = int(get(mode, "train_backwards", default=0))
        if bad:
            names = get(mode, "eval_names", default=[])
            yield _ev(
                ctx,
                run,
                "mode.eval-during-training",
                f"{bad} of {total} training steps ran with dropout / batch-norm modules in eval "
                f"mode ({', '.join(names[:4])}); call model.train() before training again "
                "(e.g. after validation).",
                step=get(mode, "eval_first_step"),
                where="eval_during_training",
                detail={"steps": bad, "training_steps": total, "modules": names},
            )
        val = _val_buckets(run)
        train_mode = [b for b in val if int(b.get("train_mode", 0)) > 0]
        if train_mode:
            n = sum(int(b["train_mode"]) for b in train_mode)
            names = sorted({x for b in train_mode for x in b.get("train_mode_names", [])})
            first = min(int(b.get("first_step") or 0) for b in train_mode)
            b0 = train_mode[0]
            yield _ev(
                ctx,
                run,
                "mode.train-during-eval",
                f"{n} validation forward pass(es) ran with dropout / batch-norm in training mode "
                f"({', '.join(names[:4])}); call model.eval() before evaluating.",
                step=first,
                where=f"train_mode:{b0.get('ctx')}:{b0.get('grad_ctx')}",
                detail={"forwards": n, "modules": names},
            )
        grad = [b for b in val if b.get("ctx") is not None and int(b.get("grad", 0)) > 0]
        if grad:
            n = sum(int(b["grad"]) for b in grad)
            yield _ev(
                ctx,
                run,
                "mode.eval-grad-enabled",
                f"{n} validation forward pass(es) built autograd graphs; wrap evaluation in "
                "torch.no_grad() or torch.inference_mode().",
                detail={"forwards": n, "loaders": [b.get("ctx") for b in grad]},
            )


# --- loss and labels ----------------------------------------------------------------------------

SOFTMAX_SHARE = 0.5
"""Share of sampled cross-entropy inputs that must look like (log-)probabilities: rows in [0, 1]
summing to 1 within 1e-3, or all <= 0 with logsumexp within 1e-3 of 0 (the probe's tolerances).
Raw logits almost never satisfy either, so half is a safe margin."""

SIGMOID_MIN_ELEMENTS = 16
"""Elements seen before "every BCEWithLogits input lies in [0, 1]" is believed: a handful of small
raw logits could fall there by chance, sixteen hardly."""

INITIAL_LOSS_FACTOR = 1.0
"""checks.md: abs(L0 - ln C) >= ln C for the first classification loss (mean reduction)."""


class LossChecks(RuntimeCheck):
    ids = (
        "loss.softmax-before-ce",
        "loss.sigmoid-before-bce-logits",
        "loss.shape-broadcast",
        "loss.label-out-of-range",
        "loss.label-dtype",
        "loss.initial-mismatch",
        "loss.nonfinite",
        "loss.negative",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        loss = get(run.summary, "loss", default={})
        sampled = int(get(loss, "ce_sampled", default=0))
        probs = int(get(loss, "ce_prob_like", default=0))
        logp = int(get(loss, "ce_logprob_like", default=0))
        example = get(loss, "ce_example", default={})
        if sampled and probs >= max(1, SOFTMAX_SHARE * sampled):
            yield _ev(
                ctx,
                run,
                "loss.softmax-before-ce",
                "cross_entropy received probabilities (rows in [0, 1] summing to 1): softmax is "
                "applied before CrossEntropyLoss, which applies log_softmax itself. Pass the raw "
                "logits.",
                where="ce_input",
                detail={"sampled_calls": sampled, "probability_like": probs, "example": example},
            )
        elif sampled and logp >= max(1, SOFTMAX_SHARE * sampled):
            yield _ev(
                ctx,
                run,
                "loss.softmax-before-ce",
                "cross_entropy received log-probabilities (all <= 0, logsumexp 0): log_softmax "
                "is applied before CrossEntropyLoss, which applies it again. The loss comes out "
                "the same (log-softmax is idempotent), so this is a mixed-up pairing rather than "
                "wrong numbers: use NLLLoss on log-probabilities or pass raw logits to "
                "CrossEntropyLoss.",
                where="ce_input",
                detail={"sampled_calls": sampled, "log_probability_like": logp, "example": example},
            )
        n_bcel = int(get(loss, "bcel_sampled", default=0))
        unit = int(get(loss, "bcel_unit", default=0))
        if (
            n_bcel
            and unit == n_bcel
            and int(get(loss, "bcel_numel", default=0)) >= (SIGMOID_MIN_ELEMENTS)
        ):
            yield _ev(
                ctx,
                run,
                "loss.sigmoid-before-bce-logits",
                "binary_cross_entropy_with_logits received values that all lie in [0, 1]: a "
                "sigmoid is applied before BCEWithLogitsLoss, which applies it itself. Pass the "
                "raw logits (or use BCELoss on probabilities).",
                where="bcel_input",
                detail={"sampled_calls": n_bcel, "example": get(loss, "bcel_example")},
            )
        yield from self._observations(run, ctx)
        first = get(loss, "first_class_loss")
        if isinstance(first, dict) and first.get("reduction", "mean") == "mean":
            value = num(first.get("value"))
            classes = int(first.get("classes", 0))
            if value is not None and math.isfinite(value) and classes >= 2:
                expected = math.log(classes)
                if abs(value - expected) >= INITIAL_LOSS_FACTOR * expected:
                    yield _ev(
                        ctx,
                        run,
                        "loss.initial-mismatch",
                        f"The first {first.get('fn')} loss is {value:.3g}, far from ln C = "
                        f"{expected:.3g} for {classes} classes: the initial predictions are "
                        "confidently wrong (initialization, output scale or labels).",
                        step=first.get("step"),
                        detail={"initial_loss": value, "expected": expected, "classes": classes},
                    )
        nf = get(loss, "nonfinite_step")
        steps_nf = [
            s
            for s in run.steps
            if num(s.get("loss")) is not None and not math.isfinite(num(s.get("loss")) or 0.0)
        ]
        if nf is not None or steps_nf:
            step = nf if nf is not None else steps_nf[0].get("n")
            yield _ev(
                ctx,
                run,
                "loss.nonfinite",
                f"The loss became NaN or Inf (first at step {step}).",
                step=step,
                where="loss_nonfinite",
                detail={"function": get(loss, "nonfinite_fn")},
            )
        neg = get(loss, "negative")
        if isinstance(neg, dict):
            yield _ev(
                ctx,
                run,
                "loss.negative",
                f"{neg.get('fn')} returned {num(neg.get('value')) or 0:.4g}, below zero, which it "
                "cannot be for valid inputs (e.g. NLLLoss given raw logits or probabilities "
                "instead of log-probabilities).",
                step=neg.get("step"),
                where="loss_negative",
                detail={"loss": neg},
            )

    def _observations(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        seen: set[str] = set()
        for ob in run.observations:
            kind = ob.get("kind")
            if kind in seen:
                continue
            seen.add(str(kind))
            where = ob.get("where")
            file = line = None
            if isinstance(where, list) and len(where) == 2:
                file, line = ctx.rel(str(where[0])), where[1]
            detail = {k: v for k, v in ob.items() if k not in ("ev", "t", "kind", "where")}
            if isinstance(ob.get("detail"), dict):
                detail = {**ob["detail"], "step": ob.get("step")}
                ob = {**ob, **ob["detail"]}
            if kind == "label-out-of-range":
                msg = (
                    f"{ob.get('fn')} got class labels in [{ob.get('min')}, {ob.get('max')}] but "
                    f"the input has {ob.get('classes')} classes "
                    f"(valid: 0..{int(ob.get('classes', 1)) - 1}, "
                    f"ignore_index {ob.get('ignore_index')})."
                )
                id_ = "loss.label-out-of-range"
            elif kind == "label-dtype":
                msg = (
                    f"{ob.get('fn')} got targets of dtype {ob.get('target_dtype')} "
                    f"(shape {ob.get('target_shape')}, input {ob.get('input_shape')}): "
                    + (
                        "class-index targets must be integer (long)."
                        if ob.get("fn") in ("cross_entropy", "nll_loss")
                        else "this loss needs floating-point targets."
                    )
                )
                id_ = "loss.label-dtype"
            elif kind == "shape-broadcast":
                msg = (
                    f"{ob.get('fn')} got input {ob.get('input_shape')} and target "
                    f"{ob.get('target_shape')}, which broadcast to {ob.get('broadcast_shape')}: "
                    "every prediction is compared with every target. Make the shapes equal "
                    "(e.g. squeeze the (N, 1) output)."
                )
                id_ = "loss.shape-broadcast"
            else:
                continue
            yield finding(
                id_,
                msg,
                how="runtime",
                file=file,
                line=line if isinstance(line, int) and line >= 1 else None,
                step=ob.get("step") if isinstance(ob.get("step"), int) else None,
                detail=detail,
            )


# --- gradients, parameters, learning rate -------------------------------------------------------

MIN_STEPS_FOR_FLOW = 3
"""Optimizer steps (sampled) before a parameter that never got a gradient is called no-flow."""

EXPLODING_RATIO = 70.0
"""checks.md: first-layer / last-layer gradient norm ratio above which gradients explode."""

EXPLODING_GROWTH = 2.0
"""checks.md: gradient-norm growth per window that, sustained over every window, is explosive."""

GROWTH_WINDOW = 5
"""Sampled points per window for the growth test; at least three windows are needed."""

VANISHING_RATIO = 1e-3
"""checks.md: first/last layer gradient norm ratio below which gradients vanish ..."""

VANISHING_FIRST_NORM = 1e-4
"""... when the first layer's gradient norm is also below this (checks.md)."""

LR_HIGH_LOG10 = -1.0
"""checks.md: median log10(update norm / weight norm) above this is too large."""

LR_LOW_LOG10 = -4.0
"""checks.md: log10 update/weight ratio below this is too small. Judged on the largest sampled
ratio, so a warmup that starts tiny is not mistaken for a too-low learning rate."""

LR_SKIP_FIRST_STEPS = 3
"""Adaptive optimizers take near-lr-sized steps at first; ratios of the first steps are skipped
for the too-high test."""

LR_MIN_RATIO_STEPS = 5
"""Sampled optimizer steps (after the skipped first ones) the update/weight ratio needs before it
is judged: over two steps of a gradient-accumulation script (four backward passes each), with
momentum still building up, the ratio says little."""

LR_STEADY_FALL = 0.9
"""The loss falls steadily when the median of the last third of the optimizer steps is below
this share of the start (the lowest of the first three steps), the thirds' medians never rise,
and no step's loss rose above :data:`LR_STEADY_MAX_RISE` times the start: then a large
update/weight ratio is a model early in training taking big, useful steps, not a learning rate
that is too high."""

LR_STEADY_MAX_RISE = 1.5
"""See :data:`LR_STEADY_FALL`: a step loss above this multiple of the start is a jump."""

LR_BLOWUP_FACTOR = 3.0
"""Loss blow-up within the first steps: median loss of steps 5-20 above this times the median of
the first three steps (a loss that explodes at the start means the learning rate is too high)."""


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _falls_steadily(run: ProbeRun) -> bool:
    """Whether the training loss per optimizer step falls steadily (see :data:`LR_STEADY_FALL`)."""
    losses = [num(s.get("loss")) for s in run.steps]
    vals = [v for v in losses if v is not None and math.isfinite(v)]
    if len(vals) < 6 or len(vals) < len(losses):
        return False
    third = len(vals) // 3
    head = min(vals[:3])  # the start, before any jump
    m1, m2, m3 = _median(vals[:third]), _median(vals[third:-third]), _median(vals[-third:])
    return (
        head > 0
        and m1 >= m2 >= m3
        and m3 < LR_STEADY_FALL * head
        and max(vals) <= LR_STEADY_MAX_RISE * head
    )


class GradChecks(RuntimeCheck):
    ids = (
        "grad.no-flow",
        "grad.not-in-optimizer",
        "grad.nonfinite",
        "grad.exploding",
        "grad.vanishing",
        "param.unchanged",
        "param.nonfinite",
        "lr.too-high",
        "lr.too-low",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        g = get(run.summary, "grads", default={})
        sampled = int(get(g, "sampled_steps", default=0))
        no_flow = get(g, "no_flow", default=[])
        if sampled >= MIN_STEPS_FOR_FLOW and no_flow:
            count = int(get(g, "no_flow_count", default=len(no_flow)))
            yield _ev(
                ctx,
                run,
                "grad.no-flow",
                f"{count} trainable parameter(s) never received a non-zero gradient in "
                f"{sampled} sampled steps: {', '.join(no_flow[:6])}"
                + (" ..." if count > 6 else "")
                + ". They are unused, detached from the loss, or cut off by a dead path; freeze "
                "them explicitly (requires_grad_(False)) if that is intended.",
                detail={"parameters": no_flow, "count": count, "sampled_steps": sampled},
            )
        outside = get(g, "not_in_optimizer", default=[])
        if outside and (get(run.summary, "optimizers", default=[]) or run.optimizers):
            count = int(get(g, "not_in_optimizer_count", default=len(outside)))
            yield _ev(
                ctx,
                run,
                "grad.not-in-optimizer",
                f"{count} parameter(s) receive gradients but are in no optimizer parameter group, "
                f"so they never train: {', '.join(outside[:6])}"
                + (" ..." if count > 6 else "")
                + ".",
                detail={"parameters": outside, "count": count},
            )
        if get(g, "nonfinite_step") is not None:
            names = get(g, "nonfinite_names", default=[])
            yield _ev(
                ctx,
                run,
                "grad.nonfinite",
                f"Gradients became NaN / Inf at step {get(g, 'nonfinite_step')} "
                f"({', '.join(names[:4])}).",
                step=get(g, "nonfinite_step"),
                detail={"parameters": names},
            )
        yield from self._norms(run, ctx, g)
        yield from self._params(run, ctx)
        yield from self._lr(run, ctx)

    def _norms(self, run: ProbeRun, ctx: Context, g: dict[str, Any]) -> Iterable[Finding]:
        series = [s for s in get(g, "series", default=[]) if isinstance(s, list) and len(s) == 4]
        pairs = [
            (float(s[2]), float(s[3]))
            for s in series
            if num(s[2]) is not None
            and num(s[3]) is not None
            and math.isfinite(float(s[2]))
            and math.isfinite(float(s[3]))
            and float(s[3]) > 0
        ]
        first_name, last_name = get(g, "first_layer"), get(g, "last_layer")
        detail: dict[str, JsonValue] = {"first_layer": first_name, "last_layer": last_name}
        if pairs and first_name != last_name:
            ratio = _median([a / b for a, b in pairs])
            first_norm = _median([a for a, _ in pairs])
            detail.update(
                {
                    "median_first_last_ratio": ratio,
                    "median_first_norm": first_norm,
                    "sampled_steps": len(pairs),
                }
            )
            if ratio > EXPLODING_RATIO:
                yield _ev(
                    ctx,
                    run,
                    "grad.exploding",
                    f"The first layer's gradient norm is {ratio:.3g}x the last layer's "
                    f"(> {EXPLODING_RATIO:g}): gradients grow on the way back.",
                    detail=detail,
                )
                return
            if ratio < VANISHING_RATIO and first_norm < VANISHING_FIRST_NORM:
                yield _ev(
                    ctx,
                    run,
                    "grad.vanishing",
                    f"The first layer's gradient norm is {ratio:.2g}x the last layer's and "
                    f"{first_norm:.2g} in absolute terms: gradients vanish before they "
                    "reach the early layers.",
                    detail=detail,
                )
                return
        totals: list[float] = []
        for s in series:  # the finite prefix: after the first NaN / Inf, grad.nonfinite speaks
            value = num(s[1])
            if value is None or not math.isfinite(value):
                break
            totals.append(value)
        windows = [totals[i : i + GROWTH_WINDOW] for i in range(0, len(totals), GROWTH_WINDOW)]
        windows = [w for w in windows if len(w) == GROWTH_WINDOW]
        if len(windows) >= 3:
            meds = [_median(w) for w in windows]
            if all(b > EXPLODING_GROWTH * a > 0 for a, b in pairwise(meds)):
                yield _ev(
                    ctx,
                    run,
                    "grad.exploding",
                    f"The gradient norm more than doubles every {GROWTH_WINDOW} sampled "
                    f"steps ({' -> '.join(f'{m:.3g}' for m in meds)}).",
                    detail={"window_medians": cast(JsonValue, meds)},
                )

    def _params(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        for o in get(run.summary, "optimizers", default=[]):
            steps = int(o.get("steps", 0))
            change = num(o.get("max_change"))
            if steps >= 2 and change is not None and change == 0.0:
                yield _ev(
                    ctx,
                    run,
                    "param.unchanged",
                    f"{o.get('type')} ran {steps} steps but no parameter changed (learning rate "
                    f"{o.get('lr')}): the learning rate is zero or the gradients are all zero.",
                    step=steps,
                    detail={"optimizer": o.get("type"), "steps": steps, "lr": o.get("lr")},
                )
        p = get(run.summary, "params", default={})
        if get(p, "nonfinite_step") is not None:
            names = get(p, "nonfinite_names", default=[])
            yield _ev(
                ctx,
                run,
                "param.nonfinite",
                f"Weights became NaN / Inf by step {get(p, 'nonfinite_step')} "
                f"({', '.join(names[:4])}).",
                step=get(p, "nonfinite_step"),
                detail={"parameters": names},
            )

    def _lr(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        ratio = get(run.summary, "params", "ratio", default=[])
        logs = [
            (int(r[0]), float(r[1]))
            for r in ratio
            if isinstance(r, list) and len(r) >= 2 and num(r[1]) is not None
        ]
        late = [v for s, v in logs if s >= LR_SKIP_FIRST_STEPS]
        detail: dict[str, JsonValue] = {"sampled_steps": len(logs)}
        if len(late) >= LR_MIN_RATIO_STEPS:
            med = _median(late)
            detail["median_log10_update_ratio"] = med
            if med > LR_HIGH_LOG10 and not _falls_steadily(run):
                yield _ev(
                    ctx,
                    run,
                    "lr.too-high",
                    f"Each step changes the weights by 10^{med:.2f} of their norm (median; "
                    f"> 10^{LR_HIGH_LOG10:g}): the learning rate is too high.",
                    detail=detail,
                )
                return
        if len(logs) >= 3:
            best = max(v for _, v in logs)
            if best < LR_LOW_LOG10:
                detail["max_log10_update_ratio"] = best
                yield _ev(
                    ctx,
                    run,
                    "lr.too-low",
                    f"Even the largest step changes the weights by only 10^{best:.2f} of "
                    f"their norm (< 10^{LR_LOW_LOG10:g}): the learning rate is too low.",
                    detail=detail,
                )
                return
        losses = [(int(s.get("n", 0)), num(s.get("loss"))) for s in run.steps[:20]]
        vals = [v for _, v in losses if v is not None and math.isfinite(v)]
        if len(vals) >= 10:
            early, later = _median(vals[:3]), _median(vals[5:20])
            if early > 0 and later > LR_BLOWUP_FACTOR * early:
                yield _ev(
                    ctx,
                    run,
                    "lr.too-high",
                    f"The loss blew up within the first steps (median {early:.3g} -> "
                    f"{later:.3g}): the learning rate is too high.",
                    detail={"early_median": early, "later_median": later},
                )


# --- activations --------------------------------------------------------------------------------

DEAD_RELU_SHARE = 0.7
"""checks.md [>= 70%], read per unit: a unit (channel / feature) is dead when it never output a
positive value in any sampled training batch; a layer with this share of dead units is flagged.
(Per element, 70% zeros is normal for a trained ReLU network; per unit it is not.)"""

DEAD_RELU_MIN_UNITS = 4
"""Layers narrower than this are not judged: one dead unit of three is chance."""

MIN_ACT_BATCHES = 2
"""Sampled batches a site must have been seen in."""

SATURATED_SHARE = 0.5
"""checks.md: > 50% of sigmoid / tanh pre-activations beyond +-5 (the probe's SATURATION_ABS)."""


class ActivationChecks(RuntimeCheck):
    ids = ("act.dead-relu", "act.saturated")

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        dead, sat = [], []
        for a in get(run.summary, "acts", default=[]):
            if int(a.get("batches", 0)) < MIN_ACT_BATCHES:
                continue
            if a.get("kind") == "relu":
                units = int(a.get("units", 0))
                if (
                    units >= DEAD_RELU_MIN_UNITS
                    and int(a.get("dead", 0)) >= DEAD_RELU_SHARE * units
                ):
                    dead.append(a)
            elif int(a.get("numel", 0)) > 0:
                share = int(a.get("saturated", 0)) / int(a["numel"])
                if share > SATURATED_SHARE:
                    sat.append({**a, "share": share})
        if dead:
            sites = [f"{a['site']}: {a['dead']}/{a['units']} units dead" for a in dead]
            yield _ev(
                ctx,
                run,
                "act.dead-relu",
                f"ReLU layers where most units never activate: {'; '.join(sites[:4])}.",
                detail={"sites": cast(JsonValue, dead)},
            )
        if sat:
            sites = [f"{a['site']} ({a['kind']}): {a['share']:.0%} saturated" for a in sat]
            yield _ev(
                ctx,
                run,
                "act.saturated",
                f"Saturated {', '.join(sorted({a['kind'] for a in sat}))} units, so their "
                f"gradients vanish: {'; '.join(sites[:4])}.",
                detail={"sites": cast(JsonValue, sat)},
            )


# --- learning-rate schedule ---------------------------------------------------------------------

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
            yield _ev(
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


# --- data ---------------------------------------------------------------------------------------

UNNORMALIZED_RMS = 5.0
"""Root-mean-square of the first layer's input above which data is unnormalized. Standardized data
has RMS ~1, [0, 1] images ~0.5, raw 0..255 pixels ~100; five leaves room for honest features."""

UNNORMALIZED_ABSMAX = 100.0
"""... or a largest magnitude above this (a single feature on a scale of hundreds or more)."""

CONSTANT_MIN_BATCHES = 2
"""Sampled batches that must all be constant before an input stream is called constant."""

CONSTANT_MIN_LABELS = 16
"""Labels that must all be one class before the labels are called constant."""

SORTED_MIN_BATCHES = 4
"""Consecutive training batches whose labels must run in non-decreasing order (label-sorted)."""

OVERLAP_MIN_ROWS = 2
"""Distinct non-constant input rows seen both in training and in validation before the splits are
called overlapping; one could be a legitimate duplicate, two rarely are."""

IMBALANCE_RATIO = 10.0
"""Most / least frequent class count at or above which labels are strongly skewed."""

IMBALANCE_MIN_PER_CLASS = 20
"""Labels per class that must have been seen before the ratio is trusted."""

IMBALANCE_ABSENT_MAX_CLASSES = 20
"""A class never seen in the sampled labels counts as skew only among at most this many classes.
Over a larger label space (token ids, a vocabulary) some ids are never targets by design, such as
padding or special tokens, so only the classes that occur are compared."""


class DataChecks(RuntimeCheck):
    ids = (
        "data.nonfinite",
        "data.unnormalized",
        "data.constant",
        "data.train-not-shuffled",
        "data.split-overlap",
        "data.class-imbalance",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        s = run.summary
        buckets = [b for b in get(s, "buckets", default=[]) if b.get("trained")]
        train = [
            b
            for b in buckets
            if (b.get("ctx") is not None and b.get("ctx_kind") == "train")
            or (b.get("ctx") is None and b.get("grad_ctx") is True)
        ]
        bad = [b for b in buckets if int(b.get("nonfinite", 0)) > 0]
        tf = get(s, "labels", "target_float", default={})
        if bad or int(get(tf, "nonfinite", default=0)) > 0:
            step = min((int(b.get("nonfinite_step") or 0) for b in bad), default=None)
            yield _ev(
                ctx,
                run,
                "data.nonfinite",
                "NaN / Inf values in the "
                + ("model inputs" if bad else "loss targets")
                + (f" (first at step {step})" if step is not None else "")
                + ".",
                step=step,
                detail={
                    "input_batches": sum(int(b.get("nonfinite", 0)) for b in bad),
                    "target_batches": int(get(tf, "nonfinite", default=0)),
                },
            )
        yield from self._unnormalized(run, ctx, train)
        yield from self._constant(run, ctx, train)
        order = list(self._order(run, ctx))
        yield from order
        ov = get(s, "overlap", default={})
        shared = int(get(ov, "shared_rows", default=0))
        if shared >= OVERLAP_MIN_ROWS:
            yield _ev(
                ctx,
                run,
                "data.split-overlap",
                f"{shared} identical input samples were seen both in training and in "
                f"validation / test batches (of {get(ov, 'val_rows')} validation rows "
                "hashed): the splits overlap.",
                detail={k: v for k, v in ov.items() if isinstance(v, int)},
            )
        if not any(f.id == "data.train-not-shuffled" for f in order):
            # label-sorted batches, of which the probe saw the first part of each epoch, say
            # nothing about the class balance
            yield from self._imbalance(run, ctx)

    def _unnormalized(
        self, run: ProbeRun, ctx: Context, train: list[dict[str, Any]]
    ) -> Iterable[Finding]:
        fi = get(run.summary, "first_layer_input", default={})
        if fi.get("normalizes"):
            return
        rms = num(fi.get("rms_max")) if int(fi.get("n", 0)) else None
        absmax = num(fi.get("absmax")) if int(fi.get("n", 0)) else None
        where = f"the input of the first layer ({fi.get('type')})"
        if rms is None:
            floats = [b for b in train if b.get("float_input") and int(b.get("stats_n", 0))]
            if not floats:
                return
            rms = max(float(b.get("rms_max", 0.0)) for b in floats)
            absmax = max(float(b.get("absmax", 0.0)) for b in floats)
            where = "the model input"
        if rms > UNNORMALIZED_RMS or (absmax or 0.0) > UNNORMALIZED_ABSMAX:
            yield _ev(
                ctx,
                run,
                "data.unnormalized",
                f"{where[0].upper()}{where[1:]} has RMS {rms:.3g} and values up to "
                f"{absmax:.3g}: the data is not normalized (scale it to roughly zero mean "
                "and unit variance, e.g. divide pixels by 255 and standardize).",
                detail={"rms": rms, "abs_max": absmax, "where": where},
            )

    def _constant(
        self, run: ProbeRun, ctx: Context, train: list[dict[str, Any]]
    ) -> Iterable[Finding]:
        for b in train:
            n = int(b.get("stats_n", 0))
            if n >= CONSTANT_MIN_BATCHES and int(b.get("constant_batches", 0)) == n:
                yield _ev(
                    ctx,
                    run,
                    "data.constant",
                    f"Every sampled training input batch ({n}) is constant (all values "
                    "equal): the input stream carries no information.",
                    detail={"batches": n, "shape": b.get("shape")},
                )
                return
        labels = get(run.summary, "labels", default={})
        counts = get(labels, "class_counts", default=[])
        total = sum(counts) if counts else 0
        if (
            counts
            and total >= CONSTANT_MIN_LABELS
            and int(get(labels, "class_batches", default=0)) >= 2
        ):
            nonzero = [i for i, c in enumerate(counts) if c]
            if len(nonzero) == 1:
                yield _ev(
                    ctx,
                    run,
                    "data.constant",
                    f"All {total} training labels seen are class {nonzero[0]}: the labels "
                    "are constant.",
                    detail={"labels": total, "class": nonzero[0]},
                )
                return
        tf = get(labels, "target_float", default={})
        lo, hi = num(tf.get("min")), num(tf.get("max"))
        if int(tf.get("n", 0)) >= 2 and lo is not None and lo == hi:
            yield _ev(
                ctx,
                run,
                "data.constant",
                f"Every training target seen equals {lo:g}: the targets are constant.",
                detail={"batches": int(tf.get("n", 0)), "value": lo},
            )

    def _order(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        for ld in get(run.summary, "loaders", default=[]):
            if ld.get("kind") != "train" or ld.get("iterable"):
                continue
            if ld.get("same_order") is True:
                yield _ev(
                    ctx,
                    run,
                    "data.train-not-shuffled",
                    f"The training DataLoader (sampler {ld.get('sampler')}) yields the "
                    "same batches in the same order every epoch; pass shuffle=True.",
                    detail={
                        "loader": ld.get("lid"),
                        "sampler": ld.get("sampler"),
                        "epochs": ld.get("epochs"),
                    },
                )
                return
            if ld.get("same_order") is None and ld.get("sampler") == "SequentialSampler":
                yield _ev(
                    ctx,
                    run,
                    "data.train-not-shuffled",
                    "The training DataLoader uses a SequentialSampler (shuffle=False): "
                    "batches come in a fixed order; pass shuffle=True.",
                    detail={"loader": ld.get("lid"), "sampler": ld.get("sampler")},
                )
                return
        batches = get(run.summary, "labels", "batches", default=[])
        if len(batches) >= SORTED_MIN_BATCHES:
            first = batches[: max(SORTED_MIN_BATCHES, min(len(batches), 16))]
            inner = all(int(b[2]) == 1 for b in first)
            across = all(a[1] <= b[0] for a, b in pairwise(first))
            distinct = first[-1][1] > first[0][0]
            if inner and across and distinct:
                yield _ev(
                    ctx,
                    run,
                    "data.train-not-shuffled",
                    f"The first {len(first)} training batches come sorted by label "
                    f"(labels {first[0][0]:g} .. {first[-1][1]:g} in order): the data is "
                    "label-sorted and not shuffled.",
                    detail={"batches": len(first)},
                )

    def _imbalance(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        labels = get(run.summary, "labels", default={})
        # an ignore_index inside the class range (padding) is never a target, by design
        ignored = set(get(labels, "ignored_classes", default=[]))
        by_class = {
            i: c
            for i, c in enumerate(get(labels, "class_counts", default=[]) or [])
            if i not in ignored
        }
        if len(by_class) > IMBALANCE_ABSENT_MAX_CLASSES:
            by_class = {i: c for i, c in by_class.items() if c}
        counts = list(by_class.values())
        total = sum(counts)
        if len(counts) >= 2 and total >= IMBALANCE_MIN_PER_CLASS * len(counts):
            hi, lo = max(counts), min(counts)
            skewed = lo == 0 or hi / lo >= IMBALANCE_RATIO
            if skewed and sum(1 for c in counts if c) >= 2:
                absent = [i for i, c in by_class.items() if not c]
                if absent:
                    shown = ", ".join(str(i) for i in absent[:5]) + (
                        " ..." if len(absent) > 5 else ""
                    )
                    message = (
                        f"Class id(s) {shown} never occur as a target in the sampled training "
                        f"batches while others occur up to {hi} times: a class missing from "
                        "the training data (if it is a special token never meant as a target, "
                        "such as a start-of-sequence id, this is expected)."
                    )
                else:
                    message = (
                        f"Class counts in the sampled training batches range from {lo} to "
                        f"{hi} (ratio {hi / lo:.3g}): the labels are strongly skewed."
                    )
                yield _ev(
                    ctx,
                    run,
                    "data.class-imbalance",
                    message,
                    detail={
                        "class_counts": list(counts[:100]),
                        "absent_classes": list(absent[:20]),
                    },
                )
                return
        binary = get(labels, "binary", default={})
        n, pos = float(binary.get("n", 0.0)), float(binary.get("pos", 0.0))
        if n >= 2 * IMBALANCE_MIN_PER_CLASS * IMBALANCE_RATIO:
            share = pos / n
            small = min(share, 1 - share)
            if small * (IMBALANCE_RATIO + 1) <= 1 and small > 0:
                yield _ev(
                    ctx,
                    run,
                    "data.class-imbalance",
                    f"Only {small:.1%} of the binary targets are in the minority class.",
                    detail={"positives": pos, "targets": n},
                )


# --- mixed precision ----------------------------------------------------------------------------


class AmpChecks(RuntimeCheck):
    ids = ("amp.no-grad-scaler",)

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        amp = get(run.summary, "amp", default={})
        n = int(get(amp, "fp16_backwards", default=0))
        if n and not amp.get("scaler"):
            yield _ev(
                ctx,
                run,
                "amp.no-grad-scaler",
                f"{n} training step(s) ran forward under float16 autocast without a "
                "GradScaler: small gradients underflow to zero. Use torch.amp.GradScaler "
                "(or bfloat16).",
                step=get(amp, "fp16_first_step"),
                where="fp16_backward",
                detail={"fp16_steps": n},
            )


RULES: tuple[RuntimeCheck, ...] = (
    LoopChecks(),
    ModeChecks(),
    LossChecks(),
    GradChecks(),
    ActivationChecks(),
    ScheduleChecks(),
    DataChecks(),
    AmpChecks(),
)
"""Every runtime rule, in catalogue order."""


# Findings that another finding of the same run can cause by itself: (cause id, how it does).
# When both are found the consequence says so, so that the cause is fixed first; a learning rate
# that looks too high under a doubled or accumulated gradient may be right once that is fixed.
CAUSES: dict[str, tuple[tuple[str, str], ...]] = {
    "lr.too-high": (
        ("loop.backward-twice", "every gradient is added twice"),
        ("loop.zero-grad-missing", "gradients accumulate across steps"),
        (
            "data.train-not-shuffled",
            "batches come in a fixed order (sorted data makes consecutive steps pull one way)",
        ),
        ("data.unnormalized", "the inputs are not normalized"),
    ),
    "grad.exploding": (
        ("loop.zero-grad-missing", "gradients accumulate across steps"),
        ("data.unnormalized", "the inputs are not normalized"),
    ),
    "loss.initial-mismatch": (("data.unnormalized", "the inputs are not normalized"),),
}


def _note_causes(findings: list[Finding]) -> list[Finding]:
    found = {f.id for f in findings}
    out: list[Finding] = []
    for f in findings:
        causes = [(c, how) for c, how in CAUSES.get(f.id, ()) if c in found]
        if causes:
            said = "; ".join(f"{how} ({c})" for c, how in causes)
            ev = f.evidence[0]
            detail = {**ev.detail, "possible_causes": [c for c, _ in causes]}
            f = f.model_copy(
                update={
                    "message": f"{f.message} This may follow from another finding: {said}. "
                    "Fix that first and check again.",
                    "evidence": [ev.model_copy(update={"detail": detail}), *f.evidence[1:]],
                }
            )
        out.append(f)
    return out


def judge_all(run: ProbeRun, ctx: Context) -> list[Finding]:
    """Every rule's findings for one script-mode run (not merged); a finding another one can
    cause names it (``CAUSES``)."""
    out: list[Finding] = []
    for rule in RULES:
        out.extend(rule.judge(run, ctx))
    return _note_causes(out)


__all__ = ["CAUSES", "RULES", "Context", "RuntimeCheck", "judge_all"]
