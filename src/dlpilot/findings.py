"""Findings: the one result type every check reports, and the catalogue of their ids.

The catalogue mirrors ``shared/checks.md`` (a test keeps the two equal). A finding's id names the
problem, not the way it was seen; its evidence says how (static, runtime or curve) and where.
Build findings with :func:`finding`, which takes the severity from the catalogue and refuses
unknown ids, so a typo cannot invent a new id.

Longer than the house's ~600 lines on purpose: about 390 of them are the catalogue table, one row
per id, kept in one place so that it reads like ``shared/checks.md``; the code is ~230 lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from dlpilot.errors import InvalidArgument


class Severity(StrEnum):
    """How bad a finding is: error = training broken or result void; warning = likely harms the
    result; info = a checklist gap worth knowing about."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


How = Literal["static", "runtime", "curve", "trials"]
_HOW_LETTER: dict[str, How] = {"S": "static", "R": "runtime", "C": "curve", "T": "trials"}


class Evidence(BaseModel):
    """Where and how a problem was seen. Never holds a secret's value."""

    model_config = ConfigDict(extra="forbid")

    how: How
    file: str | None = Field(default=None, description="path relative to the project root")
    line: int | None = Field(default=None, ge=1)
    step: int | None = Field(default=None, ge=0, description="optimizer step or curve step")
    detail: dict[str, JsonValue] = Field(
        default_factory=dict, description="names, values and statistics that show the problem"
    )

    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        if self.file:
            return self.file
        if self.step is not None:
            return f"step {self.step}"
        return ""


class Finding(BaseModel):
    """One problem, with a stable id from the catalogue."""

    model_config = ConfigDict(extra="forbid")

    id: str
    severity: Severity
    message: str
    evidence: list[Evidence] = Field(min_length=1)

    @property
    def title(self) -> str:
        return CATALOGUE[self.id].problem


class CheckSpec(BaseModel):
    """A catalogue entry: the id, its severity and the ways it can be seen."""

    model_config = ConfigDict(frozen=True)

    id: str
    severity: Severity
    ways: tuple[How, ...]
    problem: str
    section: str


def _c(id_: str, severity: str, ways: str, problem: str) -> tuple[str, str, str, str]:
    return (id_, severity, ways, problem)


_SECTION_OF_PREFIX = {
    "loop": "Training loop",
    "mode": "Train / eval mode",
    "loss": "Loss and labels",
    "grad": "Gradients, parameters, learning rate",
    "param": "Gradients, parameters, learning rate",
    "lr": "Gradients, parameters, learning rate",
    "act": "Gradients, parameters, learning rate",
    "data": "Data",
    "overfit": "Overfit test",
    "repro": "Training setup, reproducibility, tracking",
    "ckpt": "Training setup, reproducibility, tracking",
    "train": "Training setup, reproducibility, tracking",
    "amp": "Training setup, reproducibility, tracking",
    "track": "Training setup, reproducibility, tracking",
    "repo": "Repository",
    "curve": "Curves (bias / variance / stability)",
    "trials": "Trials (a round's analysis)",
}

_ROWS = (
    # Training loop
    _c(
        "loop.zero-grad-missing",
        "error",
        "SR",
        "gradients are never cleared, so they accumulate across optimizer steps",
    ),
    _c(
        "loop.zero-grad-misplaced",
        "error",
        "SR",
        "gradients are cleared between `backward()` and `step()`, so the step uses zero gradients",
    ),
    _c("loop.step-missing", "error", "SR", "`backward()` runs but no optimizer step ever follows"),
    _c(
        "loop.backward-twice",
        "error",
        "R",
        "the same graph is back-propagated twice for one step (`retain_graph`), doubling gradients",
    ),
    _c(
        "loop.loss-graph-retained",
        "warning",
        "SR",
        "losses are accumulated as tensors (`total += loss`), keeping every graph alive; memory grows per step",
    ),
    _c(
        "loop.mode-call-missing-parens",
        "error",
        "S",
        "`model.train` / `model.eval` referenced without being called",
    ),
    _c(
        "loop.forward-called-directly",
        "info",
        "S",
        "`model.forward(x)` bypasses module hooks; call `model(x)`",
    ),
    _c(
        "loop.clip-before-backward",
        "error",
        "SR",
        "gradient clipping runs before `backward()` (on cleared or stale gradients), so it clips nothing",
    ),
    # Train / eval mode
    _c(
        "mode.eval-during-training",
        "error",
        "SR",
        "optimizer steps run while dropout / batch-norm modules are in eval mode (e.g. `eval()` for validation never undone)",
    ),
    _c(
        "mode.train-during-eval",
        "error",
        "SR",
        "validation or inference forward passes run with dropout / batch-norm in training mode",
    ),
    _c(
        "mode.eval-grad-enabled",
        "warning",
        "SR",
        "validation builds autograd graphs (no `no_grad` / `inference_mode`)",
    ),
    _c(
        "mode.dropout-always-on",
        "error",
        "SR",
        "functional dropout (`F.dropout(x, p)` without `training=self.training`) stays active in eval mode: validation is random and worse",
    ),
    _c(
        "mode.step-during-eval",
        "error",
        "SR",
        "the optimizer steps during a validation pass (a shared epoch function that always steps): the model trains on validation data",
    ),
    # Loss and labels
    _c(
        "loss.softmax-before-ce",
        "error",
        "SR",
        "probabilities or log-probabilities are fed to a loss that expects raw logits (CrossEntropyLoss)",
    ),
    _c(
        "loss.sigmoid-before-bce-logits",
        "error",
        "SR",
        "sigmoid outputs are fed to BCEWithLogitsLoss",
    ),
    _c(
        "loss.shape-broadcast",
        "error",
        "R",
        "prediction and target shapes differ and broadcast silently (e.g. `(N,1)` vs `(N,)` in MSE)",
    ),
    _c(
        "loss.label-out-of-range",
        "error",
        "R",
        "class-index labels outside `[0, C)` (and not the ignore index)",
    ),
    _c(
        "loss.label-dtype",
        "error",
        "R",
        "label dtype does not fit the loss (float class indices, integer targets for BCE/MSE)",
    ),
    _c(
        "loss.initial-mismatch",
        "warning",
        "R",
        "first classification loss far from ln C [abs(L0 - ln C) >= ln C]",
    ),
    _c("loss.nonfinite", "error", "RC", "loss is NaN or Inf (report the first step)"),
    _c("loss.negative", "warning", "RC", "a loss that cannot be negative is negative"),
    _c(
        "loss.softmax-wrong-dim",
        "error",
        "SR",
        "softmax / log_softmax over the batch dimension (`dim=0` on `(N, C)` outputs): rows do not sum to 1, and each prediction depends on the rest of the batch",
    ),
    _c(
        "loss.padding-not-ignored",
        "warning",
        "SR",
        "sequence targets are mostly a padding id that the loss does not ignore (`ignore_index`), so padding dominates the loss",
    ),
    # Gradients, parameters, learning rate
    _c(
        "grad.no-flow",
        "error",
        "R",
        "trainable parameters never get a gradient (None or exactly zero): detached subgraph, unused layer, accidental freeze; name them",
    ),
    _c(
        "grad.not-in-optimizer",
        "error",
        "R",
        "trainable parameters that receive gradients are in no optimizer parameter group",
    ),
    _c("grad.nonfinite", "error", "R", "NaN / Inf gradients"),
    _c(
        "grad.exploding",
        "warning",
        "R",
        "gradient norm explodes [first/last layer norm ratio > 70, or growth > 2x per window]",
    ),
    _c(
        "grad.vanishing",
        "warning",
        "R",
        "gradient vanishes [first/last ratio < 1e-3 and first-layer norm < 1e-4]",
    ),
    _c(
        "param.unchanged",
        "error",
        "R",
        "optimizer steps run but parameters do not change (lr 0, all-zero gradients, ...)",
    ),
    _c("param.nonfinite", "error", "R", "NaN / Inf weights"),
    _c(
        "lr.too-high",
        "warning",
        "RC",
        "update/weight ratio too large [log10 > -1] or loss blows up within the first steps",
    ),
    _c("lr.too-low", "warning", "R", "update/weight ratio too small [log10 < -4]"),
    _c(
        "act.dead-relu",
        "warning",
        "R",
        "most units of a ReLU layer never activate [>= 70% outputs <= 0]",
    ),
    _c(
        "act.saturated",
        "warning",
        "R",
        "sigmoid / tanh units saturated [> 50% of pre-activations beyond +-5]",
    ),
    _c(
        "lr.schedule-mismatch",
        "error",
        "SR",
        "the learning rate actually used departs from the schedule's intent: it collapses by orders of magnitude within the first epoch (an epoch-based scheduler stepped per batch) or climbs above the configured peak (a warm-up factor above 1)",
    ),
    # Data
    _c("data.nonfinite", "error", "R", "NaN / Inf in inputs or labels"),
    _c(
        "data.unnormalized",
        "warning",
        "R",
        "inputs far from normalized (e.g. raw 0..255 pixels, features with scale >> 1)",
    ),
    _c("data.constant", "error", "R", "an input stream or the labels are constant"),
    _c(
        "data.train-not-shuffled",
        "warning",
        "SR",
        "training batches come in a fixed or label-sorted order",
    ),
    _c(
        "data.split-overlap",
        "error",
        "SR",
        "identical samples in the training and validation / test data",
    ),
    _c(
        "data.augment-on-eval",
        "warning",
        "S",
        "random augmentation is applied to validation / test data",
    ),
    _c(
        "data.norm-stats-leak",
        "warning",
        "S",
        "normalization statistics computed on data that includes validation / test",
    ),
    _c("data.no-split", "warning", "S", "no validation data at all"),
    _c(
        "data.worker-seed",
        "warning",
        "S",
        "random numbers in a Dataset with `num_workers > 0` and no `worker_init_fn` / generator (every worker repeats the same randomness)",
    ),
    _c("data.class-imbalance", "info", "R", "label distribution strongly skewed"),
    _c(
        "data.labels-misaligned",
        "error",
        "SR",
        "labels no longer belong to their inputs (inputs and labels shuffled or sorted separately): the model can memorize a batch but not learn the task",
    ),
    _c(
        "data.eval-preprocess-mismatch",
        "error",
        "SR",
        "validation inputs are preprocessed differently from training inputs (different scale or statistics), so validation measures the wrong thing",
    ),
    # Overfit test
    _c(
        "overfit.single-batch-failed",
        "error",
        "R",
        "with regularization off, the model cannot drive the loss on one fixed batch near zero (accuracy ~100% for classification) within the step budget",
    ),
    # Training setup, reproducibility, tracking
    _c("repro.no-seed", "warning", "S", "seeds not set (random / numpy / torch)"),
    _c("repro.no-determinism", "info", "S", "deterministic algorithms not requested"),
    _c(
        "repro.unpinned-deps",
        "warning",
        "S",
        "dependencies not pinned (no lock file, unpinned requirements)",
    ),
    _c("ckpt.none", "warning", "S", "no checkpoint is ever saved"),
    _c(
        "ckpt.incomplete",
        "warning",
        "S",
        "checkpoints lack optimizer / scheduler / step state, so training cannot resume exactly",
    ),
    _c("ckpt.no-resume", "info", "S", "no code path loads a checkpoint to resume"),
    _c("train.no-validation", "warning", "S", "no validation pass"),
    _c("train.no-early-stopping", "info", "S", "no early stopping or best-checkpoint selection"),
    _c("train.no-lr-schedule", "info", "S", "constant learning rate, no schedule or warmup"),
    _c(
        "train.no-grad-clip",
        "info",
        "S",
        "recurrent / transformer model trained without gradient clipping",
    ),
    _c("amp.no-grad-scaler", "error", "SR", "float16 autocast without a gradient scaler"),
    _c("track.none", "warning", "S", "metrics are not logged anywhere machine-readable"),
    _c(
        "train.select-on-train-metric",
        "warning",
        "S",
        "early stopping or the best checkpoint is chosen on a training metric instead of a validation one",
    ),
    # Repository
    _c("repo.no-readme", "info", "S", "no README with setup instructions"),
    _c("repo.no-tests", "info", "S", "no tests"),
    _c(
        "repo.gitignore-artifacts",
        "warning",
        "S",
        "data, checkpoints or logs are not ignored by git",
    ),
    _c("repo.large-files", "warning", "S", "large binaries (checkpoints, data) are committed"),
    _c(
        "repo.secrets",
        "error",
        "S",
        "credentials or API keys in tracked files (never echo the secret itself)",
    ),
    _c("repo.hardcoded-paths", "info", "S", "absolute machine-specific paths in code"),
    _c(
        "repo.dirty",
        "info",
        "S",
        "uncommitted changes (a trial must record commit and dirty state)",
    ),
    # Curves (bias / variance / stability)
    _c(
        "curve.diverged",
        "error",
        "C",
        "loss becomes non-finite or explodes [>= 2x its minimum and rising]",
    ),
    _c("curve.train-loss-increasing", "error", "C", "training loss trends upward (usually a bug)"),
    _c(
        "curve.overfitting",
        "warning",
        "C",
        "validation loss rises after its minimum while training loss keeps falling",
    ),
    _c(
        "curve.high-bias",
        "warning",
        "C",
        "training error high relative to the target / baseline error (underfitting)",
    ),
    _c("curve.high-variance", "warning", "C", "training error low, dev error much higher"),
    _c(
        "curve.data-mismatch",
        "warning",
        "C",
        "train-dev error close to training error, dev / test error much higher",
    ),
    _c("curve.unstable", "warning", "C", "high step-to-step variance or spikes late in training"),
    _c(
        "curve.saturated",
        "info",
        "C",
        "no improvement long before the end (best point in the first 10% of steps: too many steps)",
    ),
    _c(
        "curve.still-improving",
        "info",
        "C",
        "best point in the last 25% of steps (train longer, re-tune the decay)",
    ),
    _c(
        "curve.val-better-than-train",
        "warning",
        "C",
        "validation clearly better than training (leakage, or regularization active only in training)",
    ),
    _c(
        "trials.best-at-boundary",
        "warning",
        "T",
        "the best trials sit near the edge of a parameter's range [best within the outer 10% of the range, log scale for log parameters]: expand the range and run again",
    ),
    _c(
        "trials.unstable-region",
        "warning",
        "T",
        "most trials beyond some value of a parameter diverged or collapsed to chance: the value is an upper (or lower) bound for stability",
    ),
    _c(
        "trials.infeasible",
        "warning",
        "T",
        "a large share of trials failed, went non-finite or ran out of memory [> 20%]; their causes",
    ),
    _c(
        "trials.within-noise",
        "info",
        "T",
        "the improvement over the baseline is smaller than the seed-to-seed spread of the configurations compared: do not promote yet",
    ),
    _c(
        "trials.sparse",
        "info",
        "T",
        "too few finished trials for the number of tuned parameters to trust the best point",
    ),
    _c(
        "trials.no-progress",
        "info",
        "T",
        "the best value has not improved over the last part of the round (the budget is spent past the point of return)",
    ),
)

CATALOGUE: dict[str, CheckSpec] = {
    id_: CheckSpec(
        id=id_,
        severity=Severity(sev),
        ways=tuple(_HOW_LETTER[w] for w in ways),
        problem=problem,
        section=_SECTION_OF_PREFIX[id_.split(".")[0]],
    )
    for id_, sev, ways, problem in _ROWS
}


def finding(
    id_: str,
    message: str,
    *,
    how: How,
    file: str | None = None,
    line: int | None = None,
    step: int | None = None,
    detail: dict[str, JsonValue] | None = None,
) -> Finding:
    """Make a finding with the catalogue's severity; an unknown id is a programming error."""
    spec = CATALOGUE.get(id_)
    if spec is None:
        raise InvalidArgument(f"unknown finding id {id_!r}; ids are listed in the check catalogue")
    ev = Evidence(how=how, file=file, line=line, step=step, detail=detail or {})
    return Finding(id=id_, severity=spec.severity, message=message, evidence=[ev])


def _merge_key(f: Finding) -> tuple[str, str | None, int | None]:
    """Static findings at different places stay apart; runtime and curve ones are about the run."""
    if all(e.how == "static" for e in f.evidence):
        first = f.evidence[0]
        return (f.id, first.file, first.line)
    return (f.id, None, None)


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per problem: the same id seen statically and at run time becomes one finding
    carrying both evidences; the result is sorted by severity, then id, then place."""
    by_id: dict[str, list[Finding]] = {}
    for f in findings:
        by_id.setdefault(f.id, []).append(f)
    merged: list[Finding] = []
    for id_, group in by_id.items():
        dynamic = [f for f in group if any(e.how != "static" for e in f.evidence)]
        static = [f for f in group if f not in dynamic]
        if dynamic:
            # A runtime or curve observation confirms the static ones: fold everything into one.
            head = dynamic[0]
            evidence = [e for f in dynamic + static for e in f.evidence]
            merged.append(
                Finding(
                    id=id_, severity=head.severity, message=head.message, evidence=_unique(evidence)
                )
            )
            continue
        seen: dict[tuple[str, str | None, int | None], Finding] = {}
        for f in static:
            key = _merge_key(f)
            if key in seen:
                prev = seen[key]
                seen[key] = prev.model_copy(
                    update={"evidence": _unique(prev.evidence + f.evidence)}
                )
            else:
                seen[key] = f
        merged.extend(seen.values())
    merged.sort(
        key=lambda f: (f.severity.rank, f.id, f.evidence[0].file or "", f.evidence[0].line or 0)
    )
    return merged


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    out: list[Evidence] = []
    for e in evidence:
        if e not in out:
            out.append(e)
    return out


_HEADINGS = {Severity.ERROR: "Errors", Severity.WARNING: "Warnings", Severity.INFO: "Info"}


def render_findings(findings: list[Finding], *, max_locations: int = 5) -> list[str]:
    """Terminal lines for findings, grouped by severity, each with its id, message and places."""
    lines: list[str] = []
    for sev in Severity:
        group = [f for f in findings if f.severity == sev]
        if not group:
            continue
        lines += ["", f"{_HEADINGS[sev]} ({len(group)})"]
        for f in group:
            seen: dict[str, list[str]] = {}  # place -> the ways it was seen there
            for e in f.evidence:
                if e.location():
                    ways = seen.setdefault(e.location(), [])
                    if e.how not in ways:
                        ways.append(e.how)
            mixed = any(e.how != "static" for e in f.evidence)
            places = [f"{p} ({', '.join(w)})" if mixed else p for p, w in seen.items()]
            where = ", ".join(places[:max_locations])
            if len(places) > max_locations:
                where += f" (+{len(places) - max_locations} more)"
            lines.append(f"  [{f.id}] {f.message}")
            if where:
                lines.append(f"      at {where}")
    if not findings:
        lines += ["", "No findings."]
    return lines


__all__ = [
    "CATALOGUE",
    "CheckSpec",
    "Evidence",
    "Finding",
    "How",
    "Severity",
    "finding",
    "merge_findings",
    "render_findings",
]
