"""check_script end to end: real child processes, real torch, small real training scripts.

Every runtime (R) check of the catalogue has a buggy program it must catch, and every correct
program (including the tricky ones: gradient accumulation, log_softmax + NLLLoss, a frozen
backbone, manual SGD without an optimizer, an LSTM with clipping, a BN CNN with inference_mode
validation, AMP with a GradScaler) must pass with no runtime finding and pass the overfit test.
The programs run once per module, two at a time, and the tests read the shared reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dlpilot.errors import ChildStartError, InvalidArgument
from dlpilot.findings import CATALOGUE
from dlpilot.tools.checks import CheckReport, check_script, overfit_test, plot_overfit
from dlpilot.tools.control import Control

from ._data_programs import BUGGY as DATA_BUGGY
from ._programs import BUGGY, CANNOT_FIT, CORRECT
from ._programs_loop import BUGGY as LOOP_BUGGY

pytestmark = pytest.mark.slow

RUNTIME_IDS = {i for i, spec in CATALOGUE.items() if "runtime" in spec.ways}

PENDING_RUNTIME_IDS: set[str] = set()
"""Catalogued runtime ids whose rule is not written yet (each gets its buggy program with it)."""


def _write(root: Path, name: str, source: str) -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "train.py").write_text(source)
    return d


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CheckReport]]:
    root = tmp_path_factory.mktemp("programs")
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    jobs = [(n, s, True) for n, s in CORRECT.items()]
    jobs += [(n, s, False) for n, (s, _) in BUGGY.items()]

    def run(job: tuple[str, str, bool]) -> tuple[str, CheckReport]:
        name, source, overfit = job
        cwd = _write(root, name, source)
        return name, check_script(
            ["python", "train.py"], cwd=cwd, overfit=overfit, static=False, timeout_s=240
        )

    try:
        with ThreadPoolExecutor(2) as pool:
            yield dict(pool.map(run, jobs))
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


def test_every_runtime_check_has_a_buggy_program() -> None:
    programs = [*BUGGY.values(), *DATA_BUGGY.values()]  # the latter run in test_data_classes
    caught = set().union(*(ids for _, ids in programs)) | {"overfit.single-batch-failed"}
    caught |= set().union(*(ids for _, ids, _ in LOOP_BUGGY.values()))  # test_loop_classes
    assert RUNTIME_IDS - caught - PENDING_RUNTIME_IDS == set()
    assert caught.isdisjoint(PENDING_RUNTIME_IDS), (
        "a pending id is caught now: drop it from the list"
    )


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_program_passes_clean(name: str, reports: dict[str, CheckReport]) -> None:
    report = reports[name]
    assert report.exception is None, report.exception
    assert [(f.id, f.message) for f in report.findings] == []
    assert report.steps_observed >= 10
    assert report.overfit is not None and report.overfit.verdict == "passed", report.overfit


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_program_is_caught(name: str, reports: dict[str, CheckReport]) -> None:
    expected = BUGGY[name][1]
    found = {f.id for f in reports[name].findings}
    assert expected <= found, (expected, found)
    for f in reports[name].findings:
        assert f.id in RUNTIME_IDS
        assert all(e.how == "runtime" for e in f.evidence)


def test_training_is_bounded_by_shortened_epochs(reports: dict[str, CheckReport]) -> None:
    report = reports["mlp_loader"]
    assert report.run.stopped_by == "epochs"
    assert report.steps_observed == 40  # 2 epochs x 20 batches, though the script asks for 10
    assert report.epochs_observed == 2
    kinds = sorted(str(ld["kind"]) for ld in report.loaders)
    assert kinds == ["train", "val"]


def test_crash_mid_script_is_diagnosed_with_its_line(reports: dict[str, CheckReport]) -> None:
    report = reports["label_out_of_range_mid_run"]
    assert report.run.stopped_by == "exception"
    assert report.exception is not None and report.exception.type == "IndexError"
    assert report.exception.file == "train.py" and report.exception.line
    assert report.steps_observed >= 3  # evidence up to the crash
    (f,) = [f for f in report.findings if f.id == "loss.label-out-of-range"]
    assert any(e.file == "train.py" for e in f.evidence)


def test_overfit_test_fails_a_model_that_cannot_fit(tmp_path: Path) -> None:
    cwd = _write(tmp_path, "cannot_fit", CANNOT_FIT)
    result = overfit_test(["python", "train.py"], cwd=cwd, overfit_steps=120)
    assert result.verdict == "failed"
    assert result.finding is not None and result.finding.id == "overfit.single-batch-failed"
    assert len(result.losses) == 120 and result.classification
    assert plot_overfit(result).startswith(b"\x89PNG")


WHILE_TRUE = """
import torch
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(64, 4), torch.randn(64, 1)
step = 0
while True:
    try:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        step += 1
        print("step", step, "loss", loss.item(), "x" * 200)
    except Exception:
        pass
"""

SWALLOW_ALL = WHILE_TRUE.replace("except Exception:", "except BaseException:")


@pytest.mark.parametrize(
    "source", [WHILE_TRUE, SWALLOW_ALL], ids=["except-Exception", "except-BaseException"]
)
def test_endless_script_that_catches_everything_still_stops(tmp_path: Path, source: str) -> None:
    cwd = _write(tmp_path, "endless", source)
    progress: list[float] = []
    control = Control(progress=lambda done, total, msg: progress.append(done))
    report = check_script(
        ["python", "train.py"],
        cwd=cwd,
        overfit=False,
        static=False,
        max_steps=150,
        timeout_s=120,
        control=control,
    )
    assert report.run.stopped_by == "steps"
    assert report.steps_observed == 150
    assert len(report.run.output_tail) <= 4000
    assert progress and progress[-1] >= 40


def test_event_file_stays_bounded_for_a_script_that_would_train_forever(tmp_path: Path) -> None:
    cwd = _write(tmp_path, "forever", WHILE_TRUE)
    out = tmp_path / "events.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dlpilot.sandbox.probe",
            "--out",
            str(out),
            "--max-steps",
            "100000000",
            "--max-seconds",
            "6",
            "--",
            "train.py",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events[-1]["ev"] == "end" and events[-1]["reason"] == "time"
    steps = [e for e in events if e["ev"] == "step"]
    summaries = [e for e in events if e["ev"] == "summary"]
    assert len(steps) <= 5000
    assert len(summaries) <= 40  # at steps 1, 2, 4, 8, ... and the end
    assert out.stat().st_size < 8 * 1024 * 1024


def test_missing_script_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="script not found"):
        check_script(["python", "nope.py"], cwd=tmp_path)


def test_a_child_that_cannot_start_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n")
    missing = str(tmp_path / "bin" / "python3")
    monkeypatch.setenv("DLPILOT_PYTHON", missing)  # the configured interpreter is missing
    with pytest.raises(ChildStartError):
        check_script([missing, "train.py"], cwd=tmp_path)


def test_an_interpreter_that_is_only_named_python_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n")
    with pytest.raises(InvalidArgument, match="is not allowed"):
        check_script([str(tmp_path / "bin" / "python3"), "train.py"], cwd=tmp_path)


def test_a_script_without_training_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import sys\nprint('nothing to train')\n")
    report = check_script(["python", "train.py"], cwd=tmp_path, static=False)
    assert report.run.stopped_by == "finished"
    assert report.findings == []
    assert report.overfit is not None and report.overfit.verdict == "inconclusive"
