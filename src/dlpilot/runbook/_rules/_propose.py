"""The deterministic rules: an answer for every step, with why (the evidence and the seed section).

Steps 1 to 6 are here; step 7 (the round file) is in ``_roundfile``, steps 8 and 9 in ``_after``.
Each ``_stepN`` function reads the state's evidence (recording the static evidence it needs on the
way) and returns ``(answer, why, evidence ids)``. A rule that lacks what it needs raises
:class:`RunbookError` saying what to gather, instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpilot.runbook._machine import blocked
from dlpilot.runbook._results import Proposal
from dlpilot.runbook._rules._evidence import (
    diagnosis_of,
    findings_of,
    inspection_evidence,
    project_evidence,
    scan_of,
    summary_of,
)
from dlpilot.runbook._rules._project import ProjectScan
from dlpilot.runbook._rules._space import choose_targets, kind_of, space
from dlpilot.runbook._state import RoundState, RunbookState
from dlpilot.runbook._steps import STEPS, RunbookError, Step
from dlpilot.tools.curves import CurveDiagnosis

COMPUTE_BUDGET_S = 4 * 3600.0
"""A round whose trials would take longer than this, run one after another, is compute-bound
(seed 001 section 5.1): four hours is a working day's share of one machine."""

STAGE_ONE_FRACTION = 0.15
"""Section 5.1: stage one runs 10-20% of the full training length."""

SEED_RERUNS = 3
"""Section 3.4: the best configuration and the baseline are re-run with this many seeds."""

TRIALS_PER_PARAM = 6
"""Trials per varied parameter for a quasi-random search: coverage of a small space."""

MIN_TRIALS = 8

VERDICT_TO_BOTTLENECK = {"high bias": "bias", "high variance": "variance",
                         "data mismatch": "mismatch", "instability": "stability"}  # fmt: skip
STABILITY_IDS = {"curve.diverged", "curve.unstable"}
BUG_CURVE_IDS = {"curve.train-loss-increasing"}

GOAL_KIND = {"bugs": "fix-bugs", "bias": "reduce-bias", "variance": "reduce-variance",
             "mismatch": "reduce-mismatch", "stability": "stabilize",
             "data": "improve-data"}  # fmt: skip

ACTIONS = {
    "bugs": ["fix each error-level finding at its file:line", "run dlpilot check again"],
    "bias": ["larger / deeper model", "train longer or slightly increase lr",
             "reduce regularization", "better architecture / features"],
    "variance": ["stronger regularization (dropout, L2, augmentation)", "more training data",
                 "smaller model capacity"],
    "mismatch": ["collect training data closer to dev/test", "reweight training samples",
                 "domain adaptation"],
    "stability": ["LR warmup", "gradient clipping near the 90th percentile of the grad norm",
                  "architecture hygiene (residuals, normalization, init)", "lower peak lr"],
    "data": ["more training data", "clean labels of dev/test first, then train (section 4.2)"],
}  # fmt: skip

Rule = Callable[["Ctx"], tuple[dict[str, Any], str, list[str]]]


@dataclass
class Ctx:
    root: Path
    state: RunbookState
    step: Step

    @property
    def rnd(self) -> RoundState:
        return self.state.current

    def answer(self, n: int) -> dict[str, Any]:
        record = self.rnd.answers.get(n)
        if record is None:
            raise RunbookError(
                f"step {self.step.number} ({self.step.name}): the rules need step {n} "
                f"({STEPS[n].name}) answered first"
            )
        return dict(record.answer)

    def scan(self) -> tuple[ProjectScan, str]:
        record = project_evidence(self.root, self.state)
        return scan_of(record), record.id

    def previous(self) -> RoundState | None:
        return self.state.rounds[-2] if len(self.state.rounds) > 1 else None

    def previous_answer(self, n: int) -> dict[str, Any] | None:
        """Step ``n``'s answer in the round before this one."""
        prev = self.previous()
        record = prev.answers.get(n) if prev is not None else None
        return dict(record.answer) if record is not None else None


def propose(root: Path, state: RunbookState, step: Step) -> Proposal:
    ctx = Ctx(root=root, state=state, step=step)
    stop = blocked(state.current)
    if stop and step.number in (6, 7):
        raise RunbookError(f"step {step.number} ({step.name}): {stop}")
    answer, why, evidence = _rules()[step.number](ctx)
    step.model.model_validate(answer)  # a rule never proposes what the step would refuse
    return Proposal(
        step=step.number, name=step.name, answer=answer, why=why, evidence=evidence,
        seed=step.seed,
    )  # fmt: skip


# --- step 1 ---------------------------------------------------------------------------------------


def _step1(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    scan, eid = ctx.scan()
    task, reason = task_type(scan)
    goal = scan.description or f"train the model of {Path(scan.root).name} well on its dev metric"
    answer = {"task_type": task, "business_goal": goal}
    why = f"{reason} [{eid}]; business goal from the project's description (seed 001 §0, §7.1)"
    return answer, why, [eid]


def task_type(scan: ProjectScan) -> tuple[str, str]:
    """The task type from the losses and the markers the code uses."""
    from dlpilot.runbook._rules._project import (
        CLASSIFICATION_LOSSES,
        DETECTION_MARKERS,
        REGRESSION_LOSSES,
        SEQUENCE_MARKERS,
    )

    det = [w for w in scan.markers if w.name in DETECTION_MARKERS]
    if det:
        return "detection", f"detection code: {det[0].name} at {det[0].file}:{det[0].line}"
    seq = [w for w in scan.markers if w.name in SEQUENCE_MARKERS]
    cls = [w for w in scan.losses if w.name in CLASSIFICATION_LOSSES]
    reg = [w for w in scan.losses if w.name in REGRESSION_LOSSES]
    if seq and (cls or not reg):
        return "sequence", f"sequence model: {seq[0].name} at {seq[0].file}:{seq[0].line}"
    if cls and len(cls) >= len(reg):
        out = f"; output layer sizes {scan.output_units}" if scan.output_units else ""
        return "classification", f"loss {cls[0].name} at {cls[0].file}:{cls[0].line}{out}"
    if reg:
        return "regression", f"loss {reg[0].name} at {reg[0].file}:{reg[0].line}"
    return "other", "no known loss function found in the code"


# --- step 2 ---------------------------------------------------------------------------------------


def _step2(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    scan, eid = ctx.scan()
    task = ctx.answer(1)["task_type"]
    logged = set(scan.logged)
    for diag in _curve_evidence(ctx.state):
        for run in diag[1].runs:
            logged |= {m.name for m in run.summary.metrics}
    metric, direction, reason = _choose_metric(task, logged)
    splits: dict[str, Any] = {}
    for split in ("train", "dev", "test", "train_dev"):
        found = scan.splits.get(split)
        if found:
            splits[split] = f"{found[0].name} ({found[0].file}:{found[0].line})"
    missing = [s for s in ("train", "dev") if s not in splits]
    if missing:
        raise RunbookError(
            f"step 2 (metric): the rules found no {' or '.join(missing)} split in the code "
            f"[{eid}]; answer step 2 yourself, naming where each split comes from"
        )
    others = sorted(m for m in logged if m != metric and m.startswith(("val/", "test/")))
    answer = {"metric": metric, "direction": direction, "other_metrics": others, "splits": splits}
    why = (
        f"{reason} [{eid}]; splits found in the data code: "
        + ", ".join(f"{k} = {v}" for k, v in splits.items())
        + " (seed 001 §1.1 one optimizing metric on dev; §1.2 splits)"
    )
    return answer, why, [eid]


def _choose_metric(task: str, logged: set[str]) -> tuple[str, str, str]:
    dev = sorted(m for m in logged if m.startswith("val/"))
    if task == "classification" and "val/acc" in logged:
        return "val/acc", "maximize", "the project logs val/acc: dev accuracy for a classifier"
    for name in ("val/f1", "val/auc", "val/map", "val/acc", "val/bleu", "val/iou"):
        if name in logged:
            return name, "maximize", f"the project logs {name} on the dev split"
    if "val/loss" in logged:
        return "val/loss", "minimize", "the project logs val/loss (no dev accuracy-like metric)"
    if dev:
        return dev[0], "minimize" if "loss" in dev[0] or "error" in dev[0] else "maximize", (
            f"the only dev metric the project logs is {dev[0]}"
        )  # fmt: skip
    raise RunbookError(
        "step 2 (metric): the project logs no dev (validation) metric the rules can see; log one "
        "(seed 001 §1.1, §6.2: evaluate at fixed step intervals) or answer step 2 yourself"
    )


# --- step 3 ---------------------------------------------------------------------------------------

SEED_DEFAULT_ARCH = {"classification": "ResNet-18 (images) or BERT-base (text): small/base scale",
                     "regression": "MLP or ResNet-18 backbone with a regression head",
                     "detection": "Faster R-CNN or RetinaNet with a ResNet-50 FPN backbone",
                     "sequence": "a small Transformer (e.g. 6 layers, d_model 512)",
                     "other": "a mature family close to the task, small/base scale"}  # fmt: skip


def _step3(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    from dlpilot.runbook._rules._roundfile import command_line  # it imports this module

    scan, eid = ctx.scan()
    task = ctx.answer(1)["task_type"]
    if scan.entry and scan.tunable:
        config = {f.dest: f.default for f in scan.tunable if f.default is not None}
        batch = next((f.default for f in scan.tunable if kind_of(f) == "batch"), None)
        length = next((f for f in scan.tunable if kind_of(f) == "length"), None)
        answer = {
            "exists": True,
            "source": f"{scan.entry} defaults ({scan.tunable[0].source})",
            "architecture": scan.architecture or "the project's model",
            "optimizer": scan.optimizer or "as in the script",
            "batch_size": batch if isinstance(batch, int) else None,
            "schedule": scan.schedule or "as in the script",
            "training_steps": f"{length.default} {length.dest}" if length else "as in the script",
            "command": command_line(scan, {}),
            "config": config,
        }
        why = (
            f"{scan.entry_reason}; its flag defaults are the baseline: "
            + ", ".join(f"{k}={v}" for k, v in config.items())
            + f" [{eid}] (seed 001 §2.4: a baseline run exists before tuning)"
        )
        return answer, why, [eid]
    answer = {
        "exists": False,
        "source": "seed 001 section 2 defaults",
        "architecture": SEED_DEFAULT_ARCH[task],
        "optimizer": "AdamW (lr 1e-3 to start, tuned; betas 0.9/0.999, weight decay 0.01)",
        "batch_size": None,
        "schedule": "linear warmup then cosine decay",
        "training_steps": "from small constant-lr runs: the steps to nearly fit train (§5.1)",
    }
    why = (
        f"no training entry point with flags was found ({scan.entry_reason}) [{eid}]; seed 001 §2:"
        " a mature family at small/base scale, a well-established optimizer with default "
        "hyperparameters except lr, the batch size where throughput stops scaling (§2.3), a "
        "simple schedule"
    )
    return answer, why, [eid]


# --- step 4 ---------------------------------------------------------------------------------------


def _step4(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    inspection = inspection_evidence(ctx.root, ctx.state)
    used = [inspection.id]
    errors = [f for f in findings_of(inspection) if f.get("severity") == "error"]
    check = ctx.state.latest("check")
    if check is not None and check.at >= ctx.rnd.started:
        used.append(check.id)
        errors += [f for f in findings_of(check) if f.get("severity") == "error"]
    curves = _curve_evidence(ctx.state)
    diag_id, diag = curves[-1] if curves else (None, None)
    if diag is not None and diag_id is not None:
        bug_curves = [f.model_dump(mode="json") for f in diag.findings if f.id in BUG_CURVE_IDS]
        errors += bug_curves
    if errors:
        ids = sorted({str(f["id"]) for f in errors})
        where = "; ".join(f"{f['id']}: {f.get('message', '')}" for f in errors[:5])
        answer: dict[str, Any] = {
            "bottleneck": "bugs",
            "findings": ids,
            "evidence": used + ([diag_id] if diag_id else []),
            "explanation": f"{len(errors)} error-level finding(s): {where}",
        }
        why = (
            f"error-level findings {', '.join(ids)} [{', '.join(used)}]: training is broken or its "
            "result void, so they are fixed before any tuning (seed 001 §5.2, the gate before "
            "massive tuning)"
        )
        return answer, why, used
    if diag is None or diag_id is None:
        raise RunbookError(
            "step 4 (bottleneck): no training curves recorded yet; run the baseline and record "
            "its curves (dlpilot round does both; or runbook_gather with curves = the run's "
            "metrics path)"
        )
    used.append(diag_id)
    bottleneck, numbers, text = bottleneck_of(diag)
    answer = {
        "bottleneck": bottleneck,
        "numbers": numbers,
        "findings": sorted(diag.ids),
        "evidence": used,
        "explanation": text,
    }
    why = f"{text} [{diag_id}] (seed 001 §3.3 diagnosis, §4.1, §5.2)"
    return answer, why, used


def bottleneck_of(diag: CurveDiagnosis) -> tuple[str, dict[str, float], str]:
    """The bottleneck the curves show, with the numbers behind it."""
    run = diag.run(diag.primary_run) or diag.runs[0]
    b = run.breakdown
    numbers = {
        k: float(v)
        for k, v in {
            "train_error": b.train_error, "dev_error": b.dev_error,
            "train_dev_error": b.train_dev_error, "test_error": b.test_error,
            "target_error": b.target_error, "avoidable_bias": b.avoidable_bias,
            "variance": b.variance, "mismatch": b.mismatch,
        }.items()
        if v is not None
    }  # fmt: skip
    shown = ", ".join(f"{k} {v:.4g}" for k, v in numbers.items())
    unstable = sorted(diag.ids & STABILITY_IDS)
    if unstable:
        return "stability", numbers, (
            f"the curves are unstable ({', '.join(unstable)}); {shown}"
        )  # fmt: skip
    if diag.verdict in VERDICT_TO_BOTTLENECK:
        return VERDICT_TO_BOTTLENECK[diag.verdict], numbers, (
            f"run {run.run}: verdict {diag.verdict}; {shown}"
        )  # fmt: skip
    variance = numbers.get("variance")
    bias = numbers.get("avoidable_bias", numbers.get("train_error"))
    if variance is not None and bias is not None:
        pick = "variance" if variance > bias else "bias"
        return pick, numbers, (
            f"run {run.run}: verdict {diag.verdict}; no gap is significant, the larger one is "
            f"{pick} ({'variance' if pick == 'variance' else 'train error'} "
            f"{variance if pick == 'variance' else bias:.4g}); {shown}"
        )  # fmt: skip
    raise RunbookError(
        f"step 4 (bottleneck): the curves of run {run.run} give no train and dev errors to "
        f"compare (verdict {diag.verdict}; missing: {', '.join(b.missing) or 'n/a'}); log train "
        "and dev metrics, or answer step 4 yourself"
    )


def _curve_evidence(state: RunbookState) -> list[tuple[str, CurveDiagnosis]]:
    out = []
    for record in state.evidence:
        if record.kind == "curves":
            diag = diagnosis_of(record)
            if diag is not None:
                out.append((record.id, diag))
    return out


# --- step 5 ---------------------------------------------------------------------------------------


def _step5(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    scan, eid = ctx.scan()
    bottleneck = ctx.answer(4)
    kind = bottleneck["bottleneck"]
    if kind == "bugs":
        ids = ", ".join(bottleneck["findings"])
        answer = {"kind": "fix-bugs", "question": f"Fix {ids}: does the training then pass check?",
                  "actions": ACTIONS["bugs"]}  # fmt: skip
        return answer, f"the bottleneck is bugs ({ids}): fix them first (seed 001 §5.2)", [eid]
    targets, question, seed = choose_targets(kind, scan.tunable)
    previous = _previous_boundary(ctx)
    if previous and any(p in [f.dest for f in scan.tunable] for p in previous):
        targets = [p for p in previous if p in [f.dest for f in scan.tunable]][:2]
        question = f"Where is the best {', '.join(targets)} once the range is widened?"
        seed = "001 §3.3: best points at the boundary -> expand the search range"
    if not targets:
        raise RunbookError(
            f"step 5 (goal): the bottleneck is {kind}, and the script has no flag the rules can "
            f"vary for it ({', '.join(ACTIONS[kind])}); answer step 5 yourself (a code or data "
            "change)"
        )
    answer = {"kind": GOAL_KIND[kind], "question": question, "targets": targets,
              "actions": ACTIONS[kind]}  # fmt: skip
    why = f"bottleneck {kind} (step 4) -> {seed}; flag(s) {', '.join(targets)} [{eid}]"
    return answer, why, [eid]


def _previous_boundary(ctx: Ctx) -> list[str]:
    prev = ctx.previous()
    analysis = ctx.previous_answer(8)
    if prev is None or analysis is None or (prev.decision or {}).get("promote"):
        return []
    hits: list[Any] = analysis.get("boundary") or []
    return [str(h["param"]) for h in hits if isinstance(h, dict)]


# --- step 6 ---------------------------------------------------------------------------------------


def _step6(ctx: Ctx) -> tuple[dict[str, Any], str, list[str]]:
    scan, eid = ctx.scan()
    metric = ctx.answer(2)
    baseline = ctx.answer(3)
    goal = ctx.answer(5)
    bottleneck = ctx.answer(4)["bottleneck"]
    targets = list(goal.get("targets") or [])
    config = dict(baseline.get("config") or {})
    lr_hint, lr_id = _lr_hint(ctx.state)
    used = [eid] + ([lr_id] if lr_id else [])
    tunable = {f.dest: f for f in scan.tunable}
    missing = [t for t in targets if t not in tunable]
    if not targets or missing:
        raise RunbookError(
            f"step 6 (study): the goal's targets {targets} are not tunable flags of the script "
            f"({', '.join(tunable) or 'none'}); answer step 6 yourself"
        )
    nuisance = [d for d, f in tunable.items() if kind_of(f) == "lr" and d not in targets][:1]
    if len(targets) < 2:
        nuisance += [d for d, f in tunable.items() if kind_of(f) == "decay" and d not in targets][
            :1
        ]
    params: dict[str, Any] = {}
    notes = []
    for dest, flag in tunable.items():
        if isinstance(config.get(dest), bool | int | float | str):
            flag = flag.model_copy(update={"default": config[dest]})
        role = "target" if dest in targets else "nuisance" if dest in nuisance else "fixed"
        if role == "fixed":
            params[param_name(dest)] = {"role": "fixed", "type": "fixed", "value": flag.default}
            continue
        params[param_name(dest)] = space(flag, role, bottleneck, lr_hint)
        p = params[param_name(dest)]
        if "low" in p:
            notes.append(f"{dest} {role} {p['low']}..{p['high']}{' log' if p.get('log') else ''}")
    _widen_previous_hits(ctx, params)
    varied = [n for n, p in params.items() if p["role"] != "fixed"]
    prev_targets = _previous_targets(ctx)
    sampler = "tpe" if prev_targets and prev_targets == sorted(targets) else "qmc"
    trials = max(MIN_TRIALS, TRIALS_PER_PARAM * len(varied))
    answer: dict[str, Any] = {
        "params": params,
        "objective": {"metric": metric["metric"], "direction": metric["direction"]},
        "sampler": sampler,
        "trials": trials,
        "seed_reruns": SEED_RERUNS,
    }
    stage_text = _two_stage(ctx, answer, tunable)
    why = (
        f"targets {', '.join(targets)} from the goal; nuisance {', '.join(nuisance) or 'none'} "
        f"tuned for each target value; the rest fixed at the baseline (seed 001 §3.2). Spaces: "
        f"{'; '.join(notes)}"
        + (f" (lr informed by the LR range test [{lr_id}])" if lr_id else " (lr: a decade either "
           "side of the baseline)")
        + f". Sampler {sampler}: "
        + ("exploitation, the same question as last round (Bayesian, §3.2)" if sampler == "tpe"
           else "exploration, quasi-random (§3.2)")
        + f"; {trials} trials ({TRIALS_PER_PARAM} per varied parameter); best re-run with "
        f"{SEED_RERUNS} seeds (§3.4). {stage_text} [{eid}]"
    )  # fmt: skip
    return answer, why, used


def param_name(dest: str) -> str:
    """A flag's destination as a round-file parameter name (an identifier)."""
    name = re.sub(r"\W", "_", dest)
    return name if not name[:1].isdigit() else "p_" + name


def _lr_hint(state: RunbookState) -> tuple[dict[str, float] | None, str | None]:
    record = state.latest("lr-range")
    if record is None:
        return None, None
    hint = {
        k: float(v)
        for k, v in record.data.items()
        if k in ("suggestion", "min_loss_lr") and isinstance(v, int | float)
    }
    return (hint or None), record.id


def _previous_targets(ctx: Ctx) -> list[str]:
    study = ctx.previous_answer(6)
    if study is None:
        return []
    params: dict[str, Any] = study.get("params") or {}
    return sorted(n for n, p in params.items() if isinstance(p, dict) and p.get("role") == "target")


def _widen_previous_hits(ctx: Ctx, params: dict[str, Any]) -> None:
    """Last round's best point sat on a boundary: extend that side (seed 001 §3.3)."""
    study, analysis = ctx.previous_answer(6), ctx.previous_answer(8)
    if study is None or analysis is None:
        return
    old: dict[str, Any] = study.get("params") or {}
    hits: list[Any] = analysis.get("boundary") or []
    for hit in hits:
        if not isinstance(hit, dict):
            continue
        name = str(hit["param"])
        p, before = params.get(name), old.get(name)
        if not isinstance(p, dict) or "low" not in p or not isinstance(before, dict):
            continue
        span = 10.0 if p.get("log") else 2.0
        if hit["side"] == "high":
            high = before["high"] * span if p.get("log") else before["high"] + (
                before["high"] - before["low"]
            )  # fmt: skip
            p["high"] = max(p["high"], high if p["type"] == "float" else int(high))
        else:
            low = before["low"] / span if p.get("log") else before["low"] - (
                before["high"] - before["low"]
            )  # fmt: skip
            floor = 0 if not p.get("log") else 1e-12
            p["low"] = min(p["low"], max(low, floor) if p["type"] == "float" else max(int(low), 1))


def _two_stage(ctx: Ctx, answer: dict[str, Any], tunable: dict[str, Any]) -> str:
    """Seed 001 §5.1: a compute-bound project tunes with short runs, then re-runs the best near
    full length."""
    seconds = baseline_seconds(ctx.state)
    length = next((d for d, f in tunable.items() if kind_of(f) == "length"), None)
    if seconds is None or length is None:
        return "Not compute-bound as far as known (no baseline run time recorded)."
    total = seconds * answer["trials"]
    if total <= COMPUTE_BUDGET_S:
        return (
            f"Not compute-bound: {answer['trials']} trials x {seconds:.0f} s = "
            f"{total / 3600:.1f} h <= {COMPUTE_BUDGET_S / 3600:.0f} h (§5.1)."
        )
    answer["compute_bound"] = True
    prev = ctx.previous()
    stage1_done = (
        prev is not None and 6 in prev.answers and prev.answers[6].answer.get("stage") == 1
    )
    if stage1_done:
        answer["stage"] = 2
        answer["stage_fraction"] = 1.0
        answer["trials"] = min(answer["trials"], 5)
        return "Compute-bound: stage 2 of §5.1, near-full-length runs of the best configurations."
    answer["stage"] = 1
    answer["stage_fraction"] = STAGE_ONE_FRACTION
    p = answer["params"].get(param_name(length))
    if isinstance(p, dict) and p.get("role") == "fixed" and isinstance(p.get("value"), int):
        p["value"] = max(1, round(p["value"] * STAGE_ONE_FRACTION))
    return (
        f"Compute-bound: {answer['trials']} trials x {seconds:.0f} s = {total / 3600:.1f} h > "
        f"{COMPUTE_BUDGET_S / 3600:.0f} h, so stage 1 of §5.1: short runs at "
        f"{STAGE_ONE_FRACTION:.0%} of {length}, then near-full runs of the best."
    )


def baseline_seconds(state: RunbookState) -> float | None:
    for record in reversed(state.evidence):
        if record.kind == "curves" and isinstance(record.data.get("seconds"), int | float):
            seconds: Any = record.data["seconds"]
            return float(seconds)
    return None


def _rules() -> dict[int, Rule]:
    from dlpilot.runbook._rules._after import step8, step9
    from dlpilot.runbook._rules._roundfile import step7

    return {1: _step1, 2: _step2, 3: _step3, 4: _step4, 5: _step5, 6: _step6, 7: step7,
            8: step8, 9: step9}  # fmt: skip


__all__ = [
    "COMPUTE_BUDGET_S",
    "Ctx",
    "baseline_seconds",
    "bottleneck_of",
    "param_name",
    "propose",
    "summary_of",
    "task_type",
]
