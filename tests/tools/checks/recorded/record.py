"""Re-record the probe runs that the fast replay tests use: real children, real torch.

Run from the repository root: ``python -m tests.tools.checks.recorded.record`` (a minute or
two). Each program of :data:`PROGRAMS` is written to a temporary directory and checked for real
through a :class:`~dlpilot.tools.checks.RecordingRunner`; the recording lands in
``tests/tools/checks/recorded/<name>/`` beside the program itself (``train.py.txt``, not a ``.py``
file, so no formatter changes it). Re-record after a change of the probe's events or summary, and
commit the result with it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from dlpilot.tools.checks import RecordingRunner, check_script
from tests.tools.checks._programs import BUGGY, CORRECT

HERE = Path(__file__).resolve().parent

PROGRAMS: dict[str, bool] = {
    # name in _programs: whether the overfit test runs too (as test_check_script runs them)
    "mlp_loader": True,
    "no_zero_grad": False,
    "eval_never_undone": False,
    "validation_in_train_mode_with_grad": False,
    "softmax_then_cross_entropy": False,
    "nan_in_inputs": False,
    "label_out_of_range_mid_run": False,
}


def source(name: str) -> str:
    return CORRECT[name] if name in CORRECT else BUGGY[name][0]


def record(name: str, overfit: bool) -> None:
    target = HERE / name
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="dlpilot-record-") as tmp:
        cwd = Path(tmp)
        (cwd / "train.py").write_text(source(name))
        check_script(
            ["python", "train.py"],
            cwd=cwd,
            overfit=overfit,
            static=False,
            timeout_s=240,
            runner=RecordingRunner(target),
        )
    (target / "train.py.txt").write_text(source(name))


def main() -> None:
    for name, overfit in PROGRAMS.items():
        record(name, overfit)
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
