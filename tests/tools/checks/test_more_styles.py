"""More correct training styles that must raise no runtime finding (the programs are in
``programs/``): a Transformer tagger (padding with ignore_index, label smoothing, warmup schedule,
clipping, no DataLoader) and a character LSTM (hidden state carried and detached across windows,
sequence-flattened cross-entropy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlpilot.tools.checks import check_script

pytestmark = pytest.mark.slow

PROGRAMS = Path(__file__).parent / "programs"


@pytest.mark.parametrize("program", ["tagger.py", "char_lstm.py"])
def test_correct_sequence_models_raise_no_runtime_finding(program, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    shutil.copy(PROGRAMS / program, tmp_path / "train.py")
    report = check_script(["python", "train.py"], cwd=tmp_path, static=False, timeout_s=240)
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.overfit is not None and report.overfit.verdict != "failed", report.overfit.reason


def test_with_no_network_a_script_that_downloads_is_refused_and_diagnosed(tmp_path):
    # the guard refuses before any packet leaves; without it the script never tries the address
    (tmp_path / "train.py").write_text(
        "import socket, sys, urllib.request\n"
        "if not getattr(socket, '_dlpilot_no_network', False):\n"
        "    sys.exit('NO GUARD')\n"
        "urllib.request.urlopen('http://192.0.2.7/weights.pt', timeout=2)\n"
    )
    report = check_script(
        ["python", "train.py"], cwd=tmp_path, static=False, overfit=False, no_network=True
    )
    assert report.exception is not None
    assert "network" in (report.exception.message + report.exception.type).lower()


def test_eval_mode_forwards_that_are_never_back_propagated_are_not_training_steps(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    shutil.copy(PROGRAMS / "trainer_val_with_grad.py", tmp_path / "train.py")
    report = check_script(
        ["python", "train.py"], cwd=tmp_path, static=False, overfit=False, timeout_s=240
    )
    assert report.exception is None, report.exception
    assert {f.id for f in report.findings} == {"mode.eval-grad-enabled"}


def test_a_dcgan_raises_no_finding_and_gets_no_overfit_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    shutil.copy(PROGRAMS / "dcgan.py", tmp_path / "train.py")
    report = check_script(["python", "train.py"], cwd=tmp_path, static=False, timeout_s=240)
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.overfit is not None and report.overfit.verdict != "failed", report.overfit.reason


def test_the_overfit_test_trains_at_the_schedules_peak_rate(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    shutil.copy(PROGRAMS / "onecycle.py", tmp_path / "train.py")
    report = check_script(["python", "train.py"], cwd=tmp_path, static=False, timeout_s=240)
    assert report.overfit is not None and report.overfit.verdict == "passed", report.overfit.reason


# Styles where the same rows legitimately reach training and no-grad passes, or one module is
# called several times per step: no finding may be raised (the overfit test may only pass or
# give no verdict); and the bug next to them that must still be caught.
@pytest.mark.parametrize(
    ("program", "expected", "overfit"),
    [
        ("siamese_pairs.py", set(), "passed"),
        ("gcn_full_graph.py", set(), None),
        ("tabular_embeddings.py", set(), "passed"),
        ("output_minibatches.py", set(), "passed"),
        # the same program with a bug: the held-out rows start 120 rows inside the training
        # rows, next to the training-accuracy pass over the training tensors
        ("tabular_embeddings.py:val_from_840", {"data.split-overlap"}, None),
        ("pad_zero_tagger.py", set(), None),
        ("triplet_centroids.py", set(), None),
        ("sorted_unshuffled.py", {"data.train-not-shuffled"}, None),
    ],
)
def test_shared_inputs_and_repeated_calls_are_judged_by_what_the_script_does(
    program, expected, overfit, tmp_path, monkeypatch
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    name, _, variant = program.partition(":")
    source = (PROGRAMS / name).read_text()
    if variant == "val_from_840":
        source = source.replace(
            "cats[cut:], nums[cut:], target[cut:]", "cats[840:], nums[840:], target[840:]"
        )
        assert "cats[840:]" in source
    (tmp_path / "train.py").write_text(source)
    report = check_script(
        ["python", "train.py"],
        cwd=tmp_path,
        static=False,
        overfit=overfit is not None,
        timeout_s=240,
    )
    assert report.exception is None, report.exception
    assert {f.id for f in report.findings} == expected, [f.message for f in report.findings]
    if overfit is not None:
        assert report.overfit is not None and report.overfit.verdict == overfit, report.overfit
