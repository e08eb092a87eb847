"""The setup rules: data handling, reproducibility, checkpoints, training hygiene, tracking, paths.

Every rule reads the shared :class:`FileFacts` of a file (one walk per file for all of them).
Per-file rules report in ``visit``. Project rules note small facts in ``visit`` and report in
``finish``, and only when the project has training code (a ``backward()`` followed by an optimizer
step, or a Lightning / Hugging Face Trainer) outside its tests; their evidence points at the
training entry file. Framework defaults count: Lightning's Trainer checkpoints and logs by default;
Hugging Face's Trainer seeds (42), schedules (linear), clips (``max_grad_norm=1.0``), checkpoints
and records its log history unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect.code.setup.facts import FileFacts, facts_for

_MAX_SITES = 20  # partial checkpoint sites kept between files (bounded memory)
_MAX_REPORTED = 3  # partial checkpoint sites reported for a project


def _entry_rank(rel: str) -> int:
    name = rel.rsplit("/", 1)[-1]
    if name.startswith("train"):
        return 0
    if name in ("main.py", "run.py", "__main__.py") or name.startswith(("finetune", "fit")):
        return 1
    return 2


class _ProjectRule(Rule):
    """Notes where the project trains; subclasses note their own signals in ``_note``."""

    def __init__(self) -> None:
        self._entry: tuple[int, str, int] | None = None  # (rank, file, line)
        self._entry_synthetic = False  # the entry trains on random tensors it makes itself
        self._entry_adversarial = False  # the entry trains a GAN

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        facts = facts_for(f)
        if facts.is_test:
            return ()
        line = facts.train_line
        if line is not None:
            cand = (_entry_rank(facts.rel), facts.rel, line)
            if self._entry is None or cand[0] < self._entry[0]:
                self._entry = cand
                self._entry_synthetic = facts.synthetic_data()
                self._entry_adversarial = facts.adversarial()
        self._note(facts)
        return ()

    def _note(self, facts: FileFacts) -> None:
        raise NotImplementedError

    def _report(
        self, id_: str, message: str, detail: dict[str, JsonValue] | None = None
    ) -> Finding:
        assert self._entry is not None
        _, rel, line = self._entry
        return finding(id_, message, how="static", file=rel, line=line, detail=detail)


def _framework_default(facts: FileFacts, what: str, *frameworks: str) -> bool:
    return any(fw in facts.frameworks for fw in frameworks) and what not in facts.disabled


class SeedRule(_ProjectRule):
    """No seed anywhere; no deterministic algorithms requested anywhere."""

    ids: ClassVar[tuple[str, ...]] = ("repro.no-seed", "repro.no-determinism")

    def __init__(self) -> None:
        super().__init__()
        self._seeded = False
        self._deterministic = False

    def _note(self, facts: FileFacts) -> None:
        if not self._seeded:
            self._seeded = "hf" in facts.frameworks or facts.signal("seed")
        if not self._deterministic:
            self._deterministic = facts.signal("determinism")

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._entry is None:
            return []
        out: list[Finding] = []
        if not self._seeded:
            out.append(
                self._report(
                    "repro.no-seed",
                    "No random seed is set anywhere, so runs cannot be repeated or compared. "
                    "Seed random, numpy and torch once at start-up (e.g. torch.manual_seed, "
                    "lightning.seed_everything or transformers.set_seed).",
                )
            )
        if not self._deterministic:
            out.append(
                self._report(
                    "repro.no-determinism",
                    "Deterministic algorithms are never requested, so even a seeded run can "
                    "differ between runs. Call torch.use_deterministic_algorithms(True) (or "
                    "Trainer(deterministic=True)) when exact reproduction matters.",
                )
            )
        return out


class CheckpointRule(_ProjectRule):
    """No checkpoint saved; checkpoints without optimizer / scheduler / step; no resume path."""

    ids: ClassVar[tuple[str, ...]] = ("ckpt.none", "ckpt.incomplete", "ckpt.no-resume")

    def __init__(self) -> None:
        super().__init__()
        self._saved = False
        self._complete = False
        self._resume = False
        self._partial: list[tuple[bool, str, int, list[str], list[str]]] = []
        self._export: tuple[str, int] | None = None  # a weights-only save after training
        self._scratch: tuple[str, int] | None = None  # a save into a temporary directory

    def _note(self, facts: FileFacts) -> None:
        framework = _framework_default(facts, "checkpoint", "hf", "lightning")
        if facts.ckpt_complete or framework:
            self._complete = True
        if not self._saved:
            # the text signal counts only where the save calls were not all understood
            understood = facts.ckpt_exports or facts.ckpt_partial or facts.ckpt_scratch
            self._saved = (
                framework
                or facts.ckpt_complete
                or facts.ckpt_unknown
                or (facts.signal("save") and not understood)
            )
        if facts.ckpt_scratch and self._scratch is None:
            self._scratch = (facts.rel, facts.ckpt_scratch[0])
        if facts.ckpt_exports and self._export is None:
            self._export = (facts.rel, facts.ckpt_exports[0])
        if facts.ckpt_partial:
            self._saved = True
            for line, saved, missing in facts.ckpt_partial:
                if len(self._partial) < _MAX_SITES:
                    self._partial.append(
                        (facts.train_line is None, facts.rel, line, saved, missing)
                    )
        if not self._resume:
            self._resume = facts.signal("resume")

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._entry is None:
            return []
        # saves that keep nothing a crash would need: where they are, what they are, and why
        for site, why, flag in (
            (
                self._export,
                "The model's weights are saved only once, after training",
                "final_export_only",
            ),
            (
                self._scratch,
                "The model is saved only into a temporary directory or file, deleted when its "
                "block ends",
                "temporary_only",
            ),
        ):
            if not self._saved and site is not None:
                return [
                    finding(
                        "ckpt.none",
                        f"{why}, so a crash or pre-emption loses the whole run. Also save model, "
                        "optimizer (and scheduler) state and the epoch/step to a kept path at "
                        "regular intervals during training.",
                        how="static",
                        file=site[0],
                        line=site[1],
                        detail={flag: True},
                    )
                ]
        if not self._saved:
            return [
                self._report(
                    "ckpt.none",
                    "No checkpoint is ever saved: a crash or pre-emption loses the whole run "
                    "and the best model cannot be recovered. Save model, optimizer, scheduler "
                    "and epoch/step with torch.save at regular intervals.",
                )
            ]
        out: list[Finding] = []
        if not self._complete:
            for _, rel, line, saved, missing in sorted(self._partial)[:_MAX_REPORTED]:
                out.append(
                    finding(
                        "ckpt.incomplete",
                        f"This checkpoint lacks {', '.join(missing)} state, so training cannot "
                        "resume exactly where it stopped. Save a dict with model, optimizer "
                        "(and scheduler) state dicts and the epoch/step.",
                        how="static",
                        file=rel,
                        line=line,
                        detail={"saved": list(saved), "missing": list(missing)},
                    )
                )
        if not self._resume:
            out.append(
                self._report(
                    "ckpt.no-resume",
                    "Checkpoints are saved but no code path loads one to resume training. Add a "
                    "--resume option that restores model, optimizer, scheduler and step (or pass "
                    "ckpt_path= / resume_from_checkpoint= to the Trainer).",
                )
            )
        return out


class ValidationRule(_ProjectRule):
    """No validation pass; no early stopping or best-checkpoint selection."""

    ids: ClassVar[tuple[str, ...]] = ("train.no-validation", "train.no-early-stopping")

    def __init__(self) -> None:
        super().__init__()
        self._validates = False
        self._stops = False
        self._moot = False  # GAN / RL training: no held-out data by nature

    def _note(self, facts: FileFacts) -> None:
        if not self._validates:
            self._validates = facts.signal("validation")
        if not self._moot:
            self._moot = facts.holdout_moot()
        if not self._stops:
            self._stops = facts.signal("early_stop")

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._entry is None or (self._moot and not self._validates):
            return []
        if self._entry_synthetic and not self._validates:
            return []  # random noise generalizes to nothing: a benchmark or a smoke test
        if not self._validates:
            return [
                self._report(
                    "train.no-validation",
                    "Training never evaluates on held-out data, so over-fitting and bugs go "
                    "unseen. Run a validation pass (model.eval(), torch.no_grad()) every epoch.",
                )
            ]
        if not self._stops and not self._moot:
            # GAN / RL: a name like ``valid`` (real labels) or ``b_values`` reads as a validation
            # pass, but there is no held-out score to stop on
            return [
                self._report(
                    "train.no-early-stopping",
                    "Nothing keeps the best model by validation metric or stops when it stops "
                    "improving. Track the best validation score and save that checkpoint (or "
                    "use EarlyStopping / load_best_model_at_end).",
                )
            ]
        return []


class LrScheduleRule(_ProjectRule):
    """Constant learning rate."""

    ids: ClassVar[tuple[str, ...]] = ("train.no-lr-schedule",)

    def __init__(self) -> None:
        super().__init__()
        self._scheduled = False

    def _note(self, facts: FileFacts) -> None:
        if not self._scheduled:
            self._scheduled = _framework_default(facts, "schedule", "hf") or facts.signal(
                "schedule"
            )

    def finish(self, project: Project) -> Iterable[Finding]:
        # GANs are trained at a constant rate by design (DCGAN, WGAN-GP, TTUR, StyleGAN): no
        # held-out metric to decay on, and decay is no known win there
        if self._entry is None or self._scheduled or self._entry_adversarial:
            return []
        return [
            self._report(
                "train.no-lr-schedule",
                "The learning rate is constant for the whole run. A warm-up plus decay "
                "(e.g. torch.optim.lr_scheduler.CosineAnnealingLR or OneCycleLR) usually "
                "trains faster and ends lower.",
            )
        ]


class GradClipRule(_ProjectRule):
    """Recurrent / transformer model trained without gradient clipping."""

    ids: ClassVar[tuple[str, ...]] = ("train.no-grad-clip",)

    def __init__(self) -> None:
        super().__init__()
        self._clipped = False
        self._model: tuple[str, int] | None = None

    def _note(self, facts: FileFacts) -> None:
        if not self._clipped:
            self._clipped = _framework_default(facts, "clip", "hf") or facts.signal("clip")
        if self._model is None and not self._clipped:
            line = facts.seq_model_line()
            if line is not None:
                self._model = (facts.rel, line)

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._entry is None or self._clipped or self._model is None:
            return []
        rel, line = self._model
        return [
            self._report(
                "train.no-grad-clip",
                "A recurrent / transformer model is trained without gradient clipping, so one "
                "bad batch can blow up the weights. Clip the gradient norm before the optimizer "
                "step (torch.nn.utils.clip_grad_norm_(params, 1.0) or gradient_clip_val=1.0).",
                {"model_file": rel, "model_line": line},
            )
        ]


class TrackingRule(_ProjectRule):
    """Metrics not logged anywhere machine-readable."""

    ids: ClassVar[tuple[str, ...]] = ("track.none",)

    def __init__(self) -> None:
        super().__init__()
        self._tracked = False

    def _note(self, facts: FileFacts) -> None:
        if not self._tracked:
            self._tracked = (
                "hf" in facts.frameworks
                or _framework_default(facts, "track", "lightning")
                or facts.signal("track")
            )

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._entry is None or self._tracked:
            return []
        return [
            self._report(
                "track.none",
                "Metrics are never written anywhere machine-readable (at most printed), so "
                "runs cannot be compared or their curves read. Log losses and metrics per "
                "step/epoch to TensorBoard, W&B, MLflow or a JSON-lines / CSV file.",
            )
        ]


class HeldOutDataRule(_ProjectRule):
    """No validation data at all."""

    ids: ClassVar[tuple[str, ...]] = ("data.no-split",)

    def __init__(self) -> None:
        super().__init__()
        self._held_out = False

    def _note(self, facts: FileFacts) -> None:
        if not self._held_out:
            self._held_out = facts.signal("heldout") or facts.holdout_moot()

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._entry is None or self._held_out or self._entry_synthetic:
            return []
        return [
            self._report(
                "data.no-split",
                "All data is used for training; there is no validation or test split, so "
                "generalization is never measured. Hold out a validation set (random_split with "
                "a seeded generator, or train_test_split) before training.",
            )
        ]


class WorkerSeedRule(Rule):
    """A Dataset draws numpy / Python random numbers, its loader has workers and no seeding."""

    ids: ClassVar[tuple[str, ...]] = ("data.worker-seed",)

    def __init__(self) -> None:
        self._random: dict[str, tuple[str, int]] = {}
        self._loaders: list[tuple[str, int, str]] = []
        self._seeded = False

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        facts = facts_for(f)
        for cls, line in facts.random_datasets:
            self._random.setdefault(cls, (facts.rel, line))
        for line, cls in facts.worker_loaders:
            if len(self._loaders) < _MAX_SITES:
                self._loaders.append((facts.rel, line, cls))
        if (facts.worker_loaders or facts.random_datasets) and not self._seeded:
            self._seeded = facts.signal("worker_init")
        return ()

    def finish(self, project: Project) -> Iterable[Finding]:
        if self._seeded:
            return []
        out: list[Finding] = []
        for rel, line, cls in self._loaders:
            where = self._random.get(cls)
            if where is None:
                continue
            out.append(
                finding(
                    "data.worker-seed",
                    f"{cls} draws numpy / Python random numbers and this DataLoader runs it in "
                    "worker processes without worker_init_fn or generator, so the randomness "
                    "is not reproducible and RNG objects copied into workers repeat. Pass "
                    "worker_init_fn=seed_worker and generator=torch.Generator().manual_seed(s).",
                    how="static",
                    file=rel,
                    line=line,
                    detail={"dataset": cls, "dataset_file": where[0], "dataset_line": where[1]},
                )
            )
        return out


class TrainShuffleRule(Rule):
    """A training DataLoader neither shuffles nor samples."""

    ids: ClassVar[tuple[str, ...]] = ("data.train-not-shuffled",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        return [
            finding(
                "data.train-not-shuffled",
                f"The training loader {what or ''} has {why}, so batches come in the same "
                "(possibly label-sorted) order every epoch. Pass shuffle=True (or a "
                "RandomSampler / DistributedSampler).",
                how="static",
                file=f.rel,
                line=line,
                detail={"loader": what, "reason": why},
            )
            for line, what, why in facts_for(f).shuffle_issues
        ]


class SplitOverlapRule(Rule):
    """Training and held-out data share samples."""

    ids: ClassVar[tuple[str, ...]] = ("data.split-overlap",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        return [
            finding(
                "data.split-overlap",
                f"Held-out data overlaps the training data ({why}), so validation scores are "
                "inflated. Split once into disjoint parts (random_split, train_test_split or "
                "non-overlapping index ranges) and evaluate only on the held-out part.",
                how="static",
                file=f.rel,
                line=line,
                detail={"reason": why},
            )
            for line, why in facts_for(f).overlap_issues
        ]


class AugmentOnEvalRule(Rule):
    """Random augmentation applied to validation / test data."""

    ids: ClassVar[tuple[str, ...]] = ("data.augment-on-eval",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        return [
            finding(
                "data.augment-on-eval",
                f"Validation / test data gets random augmentation ({why}), so its scores are "
                "noisy and pessimistic. Use a deterministic eval transform (resize, center "
                "crop, normalize) for held-out data.",
                how="static",
                file=f.rel,
                line=line,
                detail={"reason": why},
            )
            for line, why in facts_for(f).augment_issues
        ]


class NormStatsLeakRule(Rule):
    """Normalization statistics computed on data that is split afterwards."""

    ids: ClassVar[tuple[str, ...]] = ("data.norm-stats-leak",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        return [
            finding(
                "data.norm-stats-leak",
                f"Normalization statistics are computed on {data!r} before it is split (line "
                f"{split}), so validation / test data leaks into training. Split first, then "
                "compute mean/std (or fit the scaler) on the training part only.",
                how="static",
                file=f.rel,
                line=line,
                detail={"data": data, "split_line": split},
            )
            for line, data, split in facts_for(f).leak_issues
        ]


class HardcodedPathRule(Rule):
    """Absolute machine-specific paths in code."""

    ids: ClassVar[tuple[str, ...]] = ("repo.hardcoded-paths",)

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        return [
            finding(
                "repo.hardcoded-paths",
                f"The absolute path {path!r} exists only on one machine. Take it from a "
                "command-line option, config file or environment variable, or make it relative "
                "to the project.",
                how="static",
                file=f.rel,
                line=line,
                detail={"path": path},
            )
            for line, path in facts_for(f).path_issues
        ]


__all__ = [
    "AugmentOnEvalRule",
    "CheckpointRule",
    "GradClipRule",
    "HardcodedPathRule",
    "HeldOutDataRule",
    "LrScheduleRule",
    "NormStatsLeakRule",
    "SeedRule",
    "SplitOverlapRule",
    "TrackingRule",
    "TrainShuffleRule",
    "ValidationRule",
    "WorkerSeedRule",
]
