"""The entry checks' rules on hand-written measurements (no torch, no child): where both modes
look at the same thing, entry mode judges it by the script-mode rule and threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlpilot.tools.checks import Context, ProbeRun, judge_all
from dlpilot.tools.checks.rules._data import IMBALANCE_RATIO, UNNORMALIZED_RMS
from dlpilot.tools.checks.rules._entry import ENTRY_CHECKS


def _entry_ids(measured: dict[str, Any], overfit: dict[str, Any] | None = None) -> set[str]:
    return {f.id for f in ENTRY_CHECKS.judge(measured, overfit)}


def _script_ids(summary: dict[str, Any]) -> set[str]:
    run = ProbeRun(start={"ev": "start"}, summary=summary)
    return {f.id for f in judge_all(run, Context(root=Path("/p")))}


def test_nothing_measured_gives_no_finding() -> None:
    assert _entry_ids({}) == set()


@pytest.mark.parametrize("ratio", [IMBALANCE_RATIO - 1, IMBALANCE_RATIO, 4 * IMBALANCE_RATIO])
def test_class_imbalance_is_judged_alike_in_both_modes(ratio: float) -> None:
    counts = [int(40 * ratio), 40, 40]
    entry = "data.class-imbalance" in _entry_ids({"class_counts": counts})
    script = "data.class-imbalance" in _script_ids(
        {"labels": {"class_counts": counts, "class_batches": 4}}
    )
    assert entry == script == (ratio >= IMBALANCE_RATIO)


@pytest.mark.parametrize("rms", [0.5, UNNORMALIZED_RMS * 0.9, UNNORMALIZED_RMS * 1.5, 120.0])
def test_unnormalized_inputs_are_judged_alike_in_both_modes(rms: float) -> None:
    entry = "data.unnormalized" in _entry_ids({"inputs": {"rms_max": rms, "abs_max": rms}})
    script = "data.unnormalized" in _script_ids(
        {"first_layer_input": {"n": 3, "rms_max": rms, "absmax": rms, "type": "Linear"}}
    )
    assert entry == script == (rms > UNNORMALIZED_RMS)


def test_an_ignore_index_inside_the_class_range_is_no_missing_class() -> None:
    assert _entry_ids({"class_counts": [300, 0, 280], "ignored_classes": [1]}) == set()
    assert "data.class-imbalance" in _entry_ids({"class_counts": [300, 0, 280]})


def test_outputs_in_the_unit_range_are_a_softmax_only_for_a_classification_loss() -> None:
    outputs = {"in_unit": True, "rows_sum_to_one": True, "output_min": 0.0, "output_max": 1.0}
    assert _entry_ids({"loss_kind": "ce", "outputs": outputs}) == {"loss.softmax-before-ce"}
    assert _entry_ids({"loss_kind": "bce_logits", "outputs": outputs}) == {
        "loss.sigmoid-before-bce-logits"
    }
    assert _entry_ids({"loss_kind": "regression", "outputs": outputs}) == set()
    assert _entry_ids({"loss_kind": "ce", "outputs": {**outputs, "in_unit": False}}) == set()


def test_the_initial_loss_is_judged_against_ln_c_and_a_nan_one_is_nonfinite() -> None:
    assert _entry_ids({"initial_loss": {"value": 1.2, "classes": 3}}) == set()
    assert _entry_ids({"initial_loss": {"value": 9.0, "classes": 3}}) == {"loss.initial-mismatch"}
    assert _entry_ids({"initial_loss": {"value": None, "classes": 3}}) == {"loss.nonfinite"}


def test_a_non_finite_overfit_loss_names_its_step() -> None:
    [hit] = ENTRY_CHECKS.judge({}, {"losses": [2.0, 1.5, None], "lr": 10.0})
    assert hit.id == "loss.nonfinite" and hit.evidence[0].step == 2
