"""The entry checks' rules: the entry-point child's measurements in, findings out.

The child (``dlpilot.sandbox.probe.entry``) builds the project's parts from its factories and
measures; every decision is made here, with the script-mode thresholds and rules where both modes
look at the same thing (``data.unnormalized`` and ``data.class-imbalance`` call the same functions,
the initial loss the same factor). What only entry mode sees (labels against the output before
any training, the outputs of an untrained model, hashed splits) has its own clauses below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools.checks.rules._data import (
    CONSTANT_MIN_LABELS,
    judge_imbalance,
    judge_unnormalized,
)
from dlpilot.tools.checks.rules._loss import INITIAL_LOSS_FACTOR

CONSTANT_MIN_SAMPLES = 16
"""Fewest sampled inputs before "every input is identical" means constant rather than a small
draw (script mode counts batches instead, as the probe sees batches, not samples)."""


def _f(id_: str, message: str, detail: dict[str, Any], step: int | None = None) -> Finding:
    return finding(id_, message, how="runtime", step=step, detail=detail)


class EntryChecks:
    """Judges the ``measured`` part of the entry child's result (and its overfit curve's
    non-finite loss; :func:`~dlpilot.tools.checks.judge_curve` judges the rest of the curve)."""

    ids: ClassVar[tuple[str, ...]] = (
        "data.nonfinite",
        "data.unnormalized",
        "data.constant",
        "data.class-imbalance",
        "data.split-overlap",
        "loss.label-dtype",
        "loss.label-out-of-range",
        "loss.shape-broadcast",
        "loss.softmax-before-ce",
        "loss.sigmoid-before-bce-logits",
        "loss.initial-mismatch",
        "loss.nonfinite",
    )

    def judge(
        self, measured: dict[str, Any], overfit: dict[str, Any] | None = None
    ) -> Iterable[Finding]:
        yield from self._inputs(measured.get("inputs") or {})
        yield from self._labels(measured.get("labels") or {})
        yield from self._label_fit(measured)
        yield from self._outputs(measured)
        yield from self._initial_loss(measured.get("initial_loss"))
        yield from self._overlap(measured.get("split_overlap"))
        if overfit:
            yield from self._overfit_nonfinite(overfit)

    def _inputs(self, inputs: dict[str, Any]) -> Iterable[Finding]:
        bad, values = int(inputs.get("nonfinite", 0)), int(inputs.get("values", 0))
        if bad:
            yield _f(
                "data.nonfinite",
                f"{bad} of {values} input values are NaN or Inf",
                {"stream": "inputs", "nonfinite": bad, "values": values},
            )
        rms = inputs.get("rms_max")
        if isinstance(rms, int | float):
            judged = judge_unnormalized(float(rms), inputs.get("abs_max"), "the model input")
            if judged is not None:
                yield _f("data.unnormalized", *judged)
        samples = int(inputs.get("samples", 0))
        if inputs.get("identical") and samples >= CONSTANT_MIN_SAMPLES:
            yield _f(
                "data.constant",
                f"all {samples} sampled inputs are identical",
                {"stream": "inputs", "samples": samples},
            )

    def _labels(self, labels: dict[str, Any]) -> Iterable[Finding]:
        bad, values = int(labels.get("nonfinite", 0)), int(labels.get("values", 0))
        if bad:
            yield _f(
                "data.nonfinite",
                f"{bad} of {values} label values are NaN or Inf",
                {"stream": "labels", "nonfinite": bad, "values": values},
            )
        if labels.get("identical") and values >= CONSTANT_MIN_LABELS:
            first = labels.get("first")
            yield _f(
                "data.constant",
                f"all {values} sampled labels equal {first!r}",
                {"stream": "labels", "samples": values, "value": first},
            )

    def _label_fit(self, m: dict[str, Any]) -> Iterable[Finding]:
        loss = m.get("loss", "the loss")
        wrong = m.get("wrong_dtype")
        if isinstance(wrong, dict):
            if wrong.get("wants") == "integer":
                message = (
                    f"{loss} gets float labels of shape {tuple(wrong['target_shape'])}; "
                    "class-index targets must be integers (torch.long), or class "
                    f"probabilities of the output's shape {tuple(wrong['output_shape'])}"
                )
                detail = {"dtype": wrong["dtype"], "target_shape": wrong["target_shape"]}
            else:
                message = f"{loss} needs float targets, got {wrong['dtype']}; convert with .float()"
                detail = {"dtype": wrong["dtype"], "loss_kind": m.get("loss_kind")}
            yield _f("loss.label-dtype", message, detail)
        rng = m.get("label_range")
        if isinstance(rng, dict) and int(rng.get("out_of_range", 0)):
            c, configured = rng["num_outputs"], rng.get("num_classes")
            yield _f(
                "loss.label-out-of-range",
                f"{rng['out_of_range']} of {rng['labels']} sampled labels lie outside [0, {c}) "
                f"(the model outputs {c} classes"
                + (f", the table says num_classes = {configured}" if configured else "")
                + f"); label values seen {rng['min']}..{rng['max']}",
                dict(rng),
            )
        counts = m.get("class_counts")
        if isinstance(counts, list):
            judged = judge_imbalance(counts, m.get("ignored_classes") or [], {})
            if judged is not None:
                yield _f("data.class-imbalance", *judged)
        cast = m.get("broadcast")
        if isinstance(cast, dict):
            yield _f(
                "loss.shape-broadcast",
                f"prediction {tuple(cast['output_shape'])} and target "
                f"{tuple(cast['target_shape'])} differ and broadcast to "
                f"{tuple(cast['broadcast_shape'])}: every prediction is compared with every "
                "target; squeeze or reshape one of them",
                {k: cast[k] for k in ("output_shape", "target_shape", "broadcast_shape")},
            )

    def _outputs(self, m: dict[str, Any]) -> Iterable[Finding]:
        out = m.get("outputs")
        if not isinstance(out, dict) or not out.get("in_unit"):
            return
        kind, loss = m.get("loss_kind"), m.get("loss", "the loss")
        span = {"output_min": out.get("output_min"), "output_max": out.get("output_max")}
        if kind in ("ce", "nll"):
            rows = bool(out.get("rows_sum_to_one"))
            what = "rows sum to 1 (softmax probabilities)" if rows else "all lie in [0, 1]"
            wants = "log-probabilities (log_softmax)" if kind == "nll" else "raw logits"
            yield _f(
                "loss.softmax-before-ce",
                f"the model's outputs {what} but {loss} expects {wants}; remove the final "
                "softmax/sigmoid" + (" or use log_softmax" if kind == "nll" else ""),
                {**span, "rows_sum_to_one": rows, "tolerance": out.get("tolerance")},
            )
        elif kind == "bce_logits":
            yield _f(
                "loss.sigmoid-before-bce-logits",
                "every model output lies in [0, 1] although BCEWithLogitsLoss applies the "
                "sigmoid itself; drop the final sigmoid",
                span,
            )

    def _initial_loss(self, initial: Any) -> Iterable[Finding]:
        if not isinstance(initial, dict):
            return
        value = initial.get("value")
        losses = initial.get("losses") or []
        if not isinstance(value, int | float) or not math.isfinite(value):
            yield _f(
                "loss.nonfinite",
                f"the loss of the untrained model is {value if value is not None else 'nan'} "
                "on the first batches",
                {"losses": losses},
                step=0,
            )
            return
        classes = initial.get("classes")
        if not isinstance(classes, int) or classes < 2:
            return
        expected = math.log(classes)
        if abs(value - expected) >= INITIAL_LOSS_FACTOR * expected:
            yield _f(
                "loss.initial-mismatch",
                f"initial loss {value:.3g} is far from ln({classes}) = {expected:.3g} expected of "
                "an untrained classifier (|L0 - ln C| >= ln C): check the output layer's "
                "initialisation and scale, and the labels",
                {
                    "initial_loss": value,
                    "ln_c": expected,
                    "num_outputs": classes,
                    "threshold": "abs(L0 - ln C) >= ln C",
                },
            )

    def _overlap(self, ov: Any) -> Iterable[Finding]:
        if not isinstance(ov, dict) or not int(ov.get("overlap", 0)):
            return
        hits, checked, examples = int(ov["overlap"]), int(ov["val_checked"]), ov["examples"]
        yield _f(
            "data.split-overlap",
            f"{hits} of {checked} validation samples also occur in the training data "
            f"(identical inputs), e.g. train[{examples[0][0]}] == val[{examples[0][1]}]",
            {**ov, "fraction": hits / checked},
        )

    def _overfit_nonfinite(self, curve: dict[str, Any]) -> Iterable[Finding]:
        losses = curve.get("losses") or []
        step = next((i for i, v in enumerate(losses) if v is None), None)
        if step is not None:
            detail: dict[str, JsonValue] = {"lr": curve.get("lr"), "phase": "overfit test"}
            yield _f(
                "loss.nonfinite",
                f"the loss became non-finite at step {step} of the overfit test "
                f"(lr {curve.get('lr')})",
                detail,
                step=step,
            )


ENTRY_CHECKS = EntryChecks()
"""The one instance the entry tools judge with."""

__all__ = ["CONSTANT_MIN_SAMPLES", "ENTRY_CHECKS", "EntryChecks"]
