"""Loss and label rules: what the loss functions received and returned (catalogue section
``loss``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools.checks._evidence import ProbeRun, get, num
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence

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
        "loss.softmax-wrong-dim",
        "loss.padding-not-ignored",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        loss = get(run.summary, "loss", default={})
        sampled = int(get(loss, "ce_sampled", default=0))
        probs = int(get(loss, "ce_prob_like", default=0))
        logp = int(get(loss, "ce_logprob_like", default=0))
        example = get(loss, "ce_example", default={})
        if sampled and probs >= max(1, SOFTMAX_SHARE * sampled):
            yield evidence(
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
            yield evidence(
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
            yield evidence(
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
                    yield evidence(
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
            yield evidence(
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
            yield evidence(
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
        for event in run.observations:
            ob: dict[str, Any] = dict(event)  # the detail's keys are merged in below
            kind = ob.get("kind")
            if kind in seen:
                continue
            seen.add(str(kind))
            where = ob.get("where")
            file = line = None
            if isinstance(where, list) and len(where) == 2:
                file, line = ctx.rel(str(where[0])), where[1]
            detail: dict[str, JsonValue] = {
                k: v for k, v in ob.items() if k not in ("ev", "t", "kind", "where")
            }
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
            elif kind == "bce-target-range":
                msg = (
                    f"{ob.get('fn')} got targets in [{ob.get('min')}, {ob.get('max')}]: binary "
                    "cross-entropy needs targets in [0, 1] (a probability of the positive class); "
                    "with class indices such as 2 the loss goes below zero and keeps falling. Use "
                    "CrossEntropyLoss for more than two classes, or map the labels to 0/1."
                )
                id_ = "loss.label-out-of-range"
            elif kind == "softmax-wrong-dim":
                what = "log-probabilities" if ob.get("act") == "log_softmax" else "probabilities"
                msg = (
                    f"{ob.get('fn')} got {what} that sum to 1 over the batch (dim 0) and not over "
                    f"the classes (input {ob.get('input_shape')}): the {ob.get('act')} is taken "
                    "over dim=0, so each prediction depends on the rest of the batch. Use dim=1 "
                    "(or dim=-1)."
                )
                id_ = "loss.softmax-wrong-dim"
            elif kind == "padding-not-ignored":
                share = float(ob.get("share", 0.0))
                msg = (
                    f"{ob.get('fn')} got sequence targets {ob.get('target_shape')} of which "
                    f"{share:.0%} are the id {ob.get('pad_id')}, in runs at the ends of the rows "
                    f"(padding), but the loss's ignore_index is {ob.get('ignore_index')}: the "
                    "padding dominates the loss and the model learns to predict it. Pass "
                    f"ignore_index={ob.get('pad_id')} (or pad the labels with -100)."
                )
                id_ = "loss.padding-not-ignored"
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
