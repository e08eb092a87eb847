"""Entry checks in real child processes with real torch: each check catches a buggy project and
passes a correct one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dlpilot.errors import ChildCrashed, ChildTimeout, SandboxError
from dlpilot.tools.checks.entry import run_entry_checks
from dlpilot.tools.checks.rules._data import UNNORMALIZED_RMS
from dlpilot.tools.control import Control

from ._projects import DATA, MODEL, data_with, make_project

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "glyph_classifier"


def _ids(report):
    return {f.id for f in report.findings}


def _one(report, id_):
    [hit] = [f for f in report.findings if f.id == id_]
    assert hit.evidence[0].how == "runtime"
    return hit


def test_the_example_project_passes_every_check_and_the_overfit_test():
    seen = []
    report = run_entry_checks(EXAMPLE, control=Control(progress=lambda d, t, m: seen.append(m)))
    assert report.findings == []
    assert report.ok
    assert report.overfit is not None and report.overfit.verdict == "passed", report.overfit.reason
    assert report.overfit.final_accuracy == 1.0
    assert report.overfit.dropout_modules_disabled == 2
    assert report.overfit.weight_decay_groups_zeroed == 1  # AdamW's default 0.01 is zeroed
    assert report.overfit.losses[0] > report.overfit.losses[-1]
    assert report.overfit.steps == report.overfit.step_budget == 200
    assert report.stats["split_overlap"] == {"train_hashed": 3000, "val_hashed": 600, "overlap": 0}
    assert any("overfit test" in m for m in seen)


def test_a_correct_tiny_project_passes_with_overfit(tmp_path):
    report = run_entry_checks(make_project(tmp_path), overfit_steps=300)
    assert report.findings == []
    assert report.overfit is not None and report.overfit.verdict == "passed", report.overfit.reason
    assert report.overfit.classification


def test_labels_beyond_the_output_size_are_out_of_range(tmp_path):
    make_project(tmp_path, data=data_with("y = torch.where(torch.arange(len(y)) % 7 == 0, 4, y)\n"))
    report = run_entry_checks(tmp_path, overfit=False)
    hit = _one(report, "loss.label-out-of-range")
    detail = hit.evidence[0].detail
    assert detail["num_outputs"] == 3 and detail["max"] == 4 and detail["examples"] == [4]
    assert hit.severity == "error"


def test_float_class_labels_are_the_wrong_dtype(tmp_path):
    make_project(tmp_path, data=data_with("y = y.float()\n"))
    report = run_entry_checks(tmp_path, overfit=False)
    assert _one(report, "loss.label-dtype").evidence[0].detail["dtype"] == "float32"


def test_integer_targets_for_mse_are_the_wrong_dtype(tmp_path):
    make_project(
        tmp_path,
        data=data_with("y = y.unsqueeze(1).repeat(1, 3)\n"),
        loss="torch.nn:MSELoss",
    )
    assert "loss.label-dtype" in _ids(run_entry_checks(tmp_path, overfit=False))


def test_a_huge_initial_loss_is_an_initial_mismatch(tmp_path):
    make_project(
        tmp_path,
        model=MODEL.replace(
            "    return Net()",
            "    net = Net()\n"
            "    with torch.no_grad():\n"
            "        net.body[-1].weight.mul_(200.0)\n"
            "    return net",
        ),
    )
    report = run_entry_checks(tmp_path, overfit=False)
    detail = _one(report, "loss.initial-mismatch").evidence[0].detail
    assert detail["initial_loss"] > 2 * detail["ln_c"]


def test_nan_inputs_are_reported(tmp_path):
    make_project(tmp_path, data=data_with("x[::5, 1] = float('nan')\n"))
    report = run_entry_checks(tmp_path, overfit=False)
    detail = _one(report, "data.nonfinite").evidence[0].detail
    assert detail["stream"] == "inputs" and detail["nonfinite"] > 0


def test_raw_pixel_scale_inputs_are_unnormalized(tmp_path):
    make_project(tmp_path, data=data_with("x = x * 60 + 120\n"))
    report = run_entry_checks(tmp_path, overfit=False)
    detail = _one(report, "data.unnormalized").evidence[0].detail
    # judged by the script-mode rule and threshold (one rule for both modes)
    assert detail["rms"] > detail["threshold_rms"] == UNNORMALIZED_RMS


def test_constant_labels_are_reported(tmp_path):
    make_project(tmp_path, data=data_with("y = torch.zeros_like(y)\n"))
    report = run_entry_checks(tmp_path, overfit=False)
    assert _one(report, "data.constant").evidence[0].detail["stream"] == "labels"


def test_a_skewed_label_distribution_is_class_imbalance(tmp_path):
    make_project(
        tmp_path, data=data_with("y = torch.where(torch.arange(len(y)) % 20 == 0, y, 0)\n")
    )
    report = run_entry_checks(tmp_path, overfit=False)
    hit = _one(report, "data.class-imbalance")
    assert hit.severity == "info" and hit.evidence[0].detail["ratio"] > 10


def test_validation_samples_copied_from_training_are_split_overlap(tmp_path):
    data = DATA.replace(
        "    return TensorDataset(*blobs(128, 2))",
        "    x, y = blobs(512, 1)\n    return TensorDataset(x[100:140], y[100:140])",
    )
    make_project(tmp_path, data=data)
    report = run_entry_checks(tmp_path, overfit=False)
    detail = _one(report, "data.split-overlap").evidence[0].detail
    assert detail["overlap"] == 40 and detail["val_checked"] == 40
    assert detail["examples"][0] == [100, 0]


def test_a_softmax_output_fed_to_cross_entropy_is_reported(tmp_path):
    make_project(
        tmp_path,
        model=MODEL.replace(
            "nn.Linear(32, classes))", "nn.Linear(32, classes), nn.Softmax(dim=1))"
        ),
    )
    report = run_entry_checks(tmp_path, overfit=False)
    assert _one(report, "loss.softmax-before-ce").evidence[0].detail["rows_sum_to_one"] is True


def test_a_column_prediction_against_a_flat_target_is_shape_broadcast(tmp_path):
    data = data_with("y = x.sum(dim=1)\n")
    make_project(
        tmp_path, model=MODEL.replace("classes=3", "classes=1"), data=data, loss="torch.nn:MSELoss"
    )
    report = run_entry_checks(tmp_path, overfit=False)
    detail = _one(report, "loss.shape-broadcast").evidence[0].detail
    assert detail["output_shape"] == [32, 1] and detail["target_shape"] == [32]


def test_a_model_that_ignores_its_input_fails_the_overfit_test(tmp_path):
    make_project(
        tmp_path,
        model=MODEL.replace("return self.body(x)", "return self.body(torch.zeros_like(x))"),
    )
    report = run_entry_checks(tmp_path, overfit_steps=60)
    hit = _one(report, "overfit.single-batch-failed")
    assert report.overfit is not None and report.overfit.verdict == "failed"
    assert report.overfit.steps == 60 and len(report.overfit.losses) == 60
    assert report.overfit.finding is not None and report.overfit.finding.id == hit.id
    assert hit.evidence[0].detail["final_accuracy"] < 0.99


def test_a_regression_project_that_is_correct_passes(tmp_path):
    data = data_with("y = x.sum(dim=1, keepdim=True)\n").replace(
        "return TensorDataset(*blobs(128, 2))",
        "x, y = blobs(128, 2)\n    return TensorDataset(x, x.sum(dim=1, keepdim=True))",
    )
    make_project(
        tmp_path, model=MODEL.replace("classes=3", "classes=1"), data=data, loss="torch.nn:MSELoss"
    )
    report = run_entry_checks(tmp_path, overfit_steps=300)
    assert report.findings == []
    assert report.overfit is not None and report.overfit.verdict == "passed", report.overfit.reason
    assert not report.overfit.classification


def test_a_factory_that_raises_is_a_crash_naming_the_stage(tmp_path):
    make_project(tmp_path, model=MODEL + "\n\ndef build_model():\n    raise KeyError('width')\n")
    with pytest.raises(
        ChildCrashed, match=r"building model from tiny.model:build_model: KeyError"
    ) as err:
        run_entry_checks(tmp_path)
    assert "EntryStageError" not in str(err.value)


def test_a_missing_factory_attribute_is_a_crash_naming_it(tmp_path):
    make_project(tmp_path, model=MODEL.replace("def build_model", "def make_model"))
    with pytest.raises(ChildCrashed, match="has no attribute 'build_model'"):
        run_entry_checks(tmp_path)


def test_a_hanging_factory_is_a_timeout(tmp_path):
    make_project(tmp_path, model="import time\n\ndef build_model():\n    time.sleep(120)\n")
    with pytest.raises(ChildTimeout, match="timeout"):
        run_entry_checks(tmp_path, timeout_s=3)


def test_cancelling_stops_the_child(tmp_path):
    make_project(
        tmp_path,
        model=MODEL.replace(
            "def build_model():", "def build_model():\n    import time; time.sleep(120)"
        ),
    )
    cancel = threading.Event()
    control = Control(progress=lambda d, t, m: cancel.set(), cancel=cancel)
    with pytest.raises(SandboxError, match="cancelled"):
        run_entry_checks(tmp_path, control=control)
