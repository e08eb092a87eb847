"""A precision round of the curve diagnosis on new, independently made curves.

(docs/curves-precision.md)

    python benchmarks/curves_precision_round.py make DIR     # train, write logs + labels.json
    python benchmarks/curves_precision_round.py score DIR    # diagnose with the dlpilot on
                                                             # PYTHONPATH, print JSON per case
    python benchmarks/curves_precision_round.py wandb DIR    # the W&B diagnose_run heuristics
    python benchmarks/curves_precision_round.py report DIR A.json B.json ...   # right / wrong

Every case is a real small CPU torch training (``tests/tools/curves/_training.py``'s trainer,
with seeds, data and settings that no test uses), written by a logger's habits (JSONL, CSV,
TensorBoard, ``add_scalars``, HF ``trainer_state.json``, Keras ``history.csv``), and labeled by
how it was made: what a right diagnosis must report and must not. Run ``score`` once with
``PYTHONPATH=/work/main/src`` (before) and once with this branch (after).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What each finding id says, in the round's categories.
CATEGORY = {
    "curve.unstable": "instability",
    "curve.diverged": "instability",
    "curve.train-loss-increasing": "instability",
    "loss.nonfinite": "instability",
    "lr.too-high": "instability",
    "curve.overfitting": "variance",
    "curve.high-variance": "variance",
    "curve.data-mismatch": "mismatch",
    "curve.high-bias": "bias",
    "curve.still-improving": "still-improving",
    "curve.saturated": "saturated",
    "curve.val-better-than-train": "val-better",
}
PROBLEMS = ["instability", "variance", "mismatch", "bias", "val-better"]


def make(out: Path, o: int = 0) -> None:
    """Train every case (seeds shifted by ``o``: a second, fresh set) into ``out``."""
    sys.path.insert(0, str(ROOT))
    import torch

    from tests.tools.curves import _logs as L
    from tests.tools.curves import _training as T

    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, dict[str, object]] = {}

    def case(
        name: str, made: str, write: Callable[[Path], Path], must: list[str], must_not: list[str]
    ) -> None:
        d = out / name
        d.mkdir()
        path = write(d)
        labels[name] = {
            "path": str(path.relative_to(out)),
            "made": made,
            "must": must,
            "must_not": must_not,
        }

    def resumed(seed: int, crash: int, restart: bool) -> T.Log:
        torch.manual_seed(seed)
        return T.train_log(
            T.mlp(24),
            T.moons(1500, 40 + seed, noise=0.12),
            {"val": T.moons(800, 60 + seed, noise=0.12)},
            epochs=12,
            batch=48,
            make_opt=T.adam(8e-4),
            crash_at=crash,
            resume_step_offset=0 if restart else None,
            seed=seed,
        )

    clean = [p for p in PROBLEMS]
    r = resumed(o + 11, 300, False)
    case(
        "resumed-checkpoint-jsonl",
        "resumed from the last epoch checkpoint (step goes back)",
        lambda d: L.write_jsonl(r, d / "metrics.jsonl"),
        ["still-improving"],
        clean,
    )
    r2 = resumed(o + 12, 200, True)
    case(
        "resumed-counter-0-csv",
        "resumed, step counter restarted at 0",
        lambda d: L.write_csv(r2, d / "log.csv"),
        [],
        clean,
    )
    r3 = resumed(o + 13, 380, False)
    r3.segments[-1] = r3.segments[-1][:15]  # read while the resumed process runs
    case(
        "resumed-read-early-tensorboard",
        "resumed; crashed tail longer than the new segment",
        lambda d: L.write_tensorboard(r3, d / "tb"),
        [],
        clean,
    )
    r4 = resumed(o + 14, 250, False)
    case(
        "resumed-hf-trainer",
        "resumed; both segments in log_history",
        lambda d: L.write_hf_state(r4, d / "out"),
        ["still-improving"],
        clean,
    )

    def small(lr: float, seed: int) -> T.Log:
        torch.manual_seed(seed)
        return T.train_log(
            T.mlp(48),
            T.moons(360, 70 + seed, noise=0.18),
            {"val": T.moons(900, 80 + seed, noise=0.18)},
            epochs=14,
            batch=4,
            make_opt=T.adam(lr),
            seed=seed,
        )

    s1, s2, s3 = small(7e-4, o + 21), small(1.5e-3, o + 22), small(0.12, o + 23)
    case(
        "batch4-healthy-jsonl",
        "batch 4, Adam 7e-4: healthy, heavy-tailed batch losses",
        lambda d: L.write_jsonl(s1, d / "metrics.jsonl"),
        [],
        ["instability", "variance"],
    )
    case(
        "batch4-healthy-hf-loss-only",
        "batch 4, Adam 1.5e-3, HF log (no train accuracy)",
        lambda d: L.write_hf_state(s2, d / "out"),
        [],
        ["instability", "variance"],
    )
    case(
        "batch4-healthy-tensorboard",
        "batch 4, Adam 7e-4, TensorBoard",
        lambda d: L.write_tensorboard(s1, d / "tb"),
        [],
        ["instability", "variance"],
    )
    case(
        "batch4-unstable-jsonl",
        "batch 4, Adam 0.12: far too high an lr",
        lambda d: L.write_jsonl(s3, d / "metrics.jsonl"),
        ["instability"],
        [],
    )

    def shifted(seed: int, degrees: float) -> T.Log:
        torch.manual_seed(seed)
        xt, yt = T.blobs(900, 90 + seed, sep=1.3)
        return T.train_log(
            T.mlp(40),
            T.blobs(1800, 91 + seed, sep=1.3),
            {"train_dev": T.blobs(900, 92 + seed, sep=1.3), "test": (T.rotate(xt, degrees), yt)},
            epochs=10,
            batch=50,
            make_opt=T.adam(2e-3),
            seed=seed,
        )

    m1, m2 = shifted(o + 31, 65), shifted(o + 32, 80)
    case(
        "train-dev-add-scalars",
        "train / train_dev / test via add_scalars, test rotated 65 deg",
        lambda d: L.write_add_scalars(
            m1, d / "tb", {"train": "train", "train_dev": "train_dev", "test": "test"}
        ),
        ["mismatch"],
        ["variance"],
    )
    case(
        "train-dev-holdout-jsonl",
        "holdout_train_* and test_*, test rotated 80 deg",
        lambda d: L.write_jsonl(
            m2, d / "m.jsonl", lambda n: n.replace("train_dev", "holdout_train")
        ),
        ["mismatch"],
        ["variance"],
    )
    case(
        "train-dev-dash-csv",
        "train-dev_* and test_* in a CSV, test rotated 65 deg",
        lambda d: L.write_csv(m1, d / "m.csv", lambda n: n.replace("train_dev", "train-dev")),
        ["mismatch"],
        ["variance"],
    )

    def epochs(n: int, seed: int, lr: float) -> T.Log:
        torch.manual_seed(seed)
        return T.train_log(
            torch.nn.Linear(2, 2),
            T.blobs(1600, 100 + seed, sep=1.2),
            {"val": T.blobs(3000, 101 + seed, sep=1.2)},
            epochs=n,
            batch=64,
            make_opt=T.sgd(lr),
            per_step=False,
            seed=seed,
        )

    e1, e2, e3 = epochs(10, o + 41, 2e-3), epochs(5, o + 42, 4e-3), epochs(12, o + 43, 0.3)
    case(
        "epoch-only-keras-10",
        "Keras history.csv, 10 epochs, val loss falls every epoch",
        lambda d: L.write_keras_history(e1, d / "history.csv"),
        ["still-improving"],
        ["val-better", "saturated"],
    )
    case(
        "epoch-only-keras-5",
        "Keras history.csv, 5 epochs, val loss falls every epoch",
        lambda d: L.write_keras_history(e2, d / "history.csv"),
        ["still-improving"],
        ["val-better", "saturated"],
    )
    case(
        "epoch-only-converged",
        "Keras history.csv, SGD 0.3: converged in two epochs",
        lambda d: L.write_keras_history(e3, d / "history.csv"),
        [],
        ["still-improving", *clean],
    )

    def prior(majority: float, seed: int, per_step: bool) -> T.Log:
        torch.manual_seed(seed)

        def data(n: int, s: int):
            g = torch.Generator().manual_seed(s)
            return torch.randn(n, 3, generator=g)[:, :2], (
                torch.rand(n, generator=g) > majority
            ).long()

        return T.train_log(
            torch.nn.Linear(2, 2),
            data(1800, 110 + seed),
            {"val": data(900, 111 + seed)},
            epochs=10,
            batch=48,
            make_opt=T.adam(2e-2),
            per_step=per_step,
            seed=seed,
        )

    p1, p2 = prior(0.75, o + 51, True), prior(0.85, o + 52, False)
    case(
        "class-prior-jsonl",
        "labels independent of inputs, 75% majority",
        lambda d: L.write_jsonl(p1, d / "metrics.jsonl"),
        ["bias"],
        ["saturated"],
    )
    case(
        "class-prior-keras",
        "labels independent of inputs, 85% majority, epoch rows",
        lambda d: L.write_keras_history(p2, d / "history.csv"),
        ["bias"],
        ["saturated"],
    )

    torch.manual_seed(o + 61)
    h1 = T.train_log(
        T.mlp(64),
        T.circles(2400, o + 120),
        {"val": T.circles(1200, o + 121)},
        epochs=20,
        batch=64,
        make_opt=T.adam(3e-3),
        seed=o + 61,
    )
    case(
        "healthy-circles-jsonl",
        "MLP on circles, Adam 3e-3, 20 epochs",
        lambda d: L.write_jsonl(h1, d / "metrics.jsonl"),
        [],
        clean,
    )
    case(
        "healthy-circles-hf",
        "the same run as an HF trainer_state.json",
        lambda d: L.write_hf_state(h1, d / "out"),
        [],
        clean,
    )
    (out / "labels.json").write_text(json.dumps(labels, indent=2))


def _categories(ids: set[str]) -> set[str]:
    return {CATEGORY[i] for i in ids if i in CATEGORY}


def score(out: Path) -> None:
    from dlpilot.tools.curves import diagnose_runs, read_run

    labels = json.loads((out / "labels.json").read_text())
    result = {}
    for name, lab in labels.items():
        try:
            d = diagnose_runs([read_run(out / lab["path"])])
            result[name] = {"ids": sorted(d.ids), "verdict": d.verdict}
        except Exception as e:  # a crash is a wrong answer, reported as such
            result[name] = {"ids": [], "verdict": f"error: {e}"}
    print(json.dumps(result))


def wandb(out: Path) -> None:
    """The heuristics W&B's ``diagnose_run`` helper publishes (the wandb-primary skill), written
    anew from their description: a NaN anywhere in the training loss; over-fitting when there
    are more than 10 validation points and the mean of the last fifth of them is more than
    1.2 x the mean of as many last training points; "converged" when there are more than 100
    training points and the standard deviation of the last tenth is under 1% of its mean (read
    here as: not converged = still improving)."""
    import numpy as np

    from dlpilot.tools.curves import read_run

    labels = json.loads((out / "labels.json").read_text())
    result = {}
    for name, lab in labels.items():
        run = read_run(out / lab["path"])
        ids: set[str] = set()
        tr, va = run.get("train/loss"), run.get("val/loss")
        if tr is not None:
            if not np.isfinite(tr.values).all():
                ids.add("loss.nonfinite")
            t = tr.values[np.isfinite(tr.values)]
            if va is not None:
                v = va.values[np.isfinite(va.values)]
                if v.shape[0] > 10:
                    tail = max(1, v.shape[0] // 5)
                    if float(np.mean(v[-tail:])) > 1.2 * float(np.mean(t[-tail:])):
                        ids.add("curve.overfitting")
            if t.shape[0] > 100:
                last = t[-max(1, math.floor(t.shape[0] / 10)) :]
                if not float(np.std(last)) < 0.01 * float(np.mean(last)):
                    ids.add("curve.still-improving")
        result[name] = {"ids": sorted(ids), "verdict": ""}
    print(json.dumps(result))


def right(lab: dict[str, object], ids: list[str]) -> bool:
    cats = _categories(set(ids))
    must = set(lab["must"])  # type: ignore[arg-type]
    must_not = set(lab["must_not"])  # type: ignore[arg-type]
    return must <= cats and not (cats & must_not)


def report(out: Path, results: list[str]) -> None:
    """Right / wrong counts of result files (``score`` / ``wandb`` outputs) against the labels."""
    labels = json.loads((out / "labels.json").read_text())
    for path in results:
        found = json.loads(Path(path).read_text())
        wrong = [n for n, lab in labels.items() if not right(lab, found[n]["ids"])]
        print(f"{path}: {len(labels) - len(wrong)} right of {len(labels)}; wrong: {wrong}")


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "make":
        make(where, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    elif command == "report":
        report(where, sys.argv[3:])
    else:
        {"score": score, "wandb": wandb}[command](where)
