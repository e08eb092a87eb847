"""Every runtime rule in catalogue order, and the judging of one run: findings that another finding
of the same run can cause say so."""

from __future__ import annotations

from dlpilot.findings import Finding
from dlpilot.tools._contract import only_declared
from dlpilot.tools.checks._evidence import ProbeRun
from dlpilot.tools.checks._exceptions import explain
from dlpilot.tools.checks._overfit import judge_curve
from dlpilot.tools.checks.rules._activations import ActivationChecks
from dlpilot.tools.checks.rules._alignment import AlignmentChecks, judge_misaligned
from dlpilot.tools.checks.rules._amp import AmpChecks
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck
from dlpilot.tools.checks.rules._data import DataChecks
from dlpilot.tools.checks.rules._entry import ENTRY_CHECKS
from dlpilot.tools.checks.rules._gradients import GradChecks
from dlpilot.tools.checks.rules._loop import LoopChecks
from dlpilot.tools.checks.rules._loss import LossChecks
from dlpilot.tools.checks.rules._mode import ModeChecks
from dlpilot.tools.checks.rules._schedule import ScheduleChecks

RULES: tuple[RuntimeCheck, ...] = (
    LoopChecks(),
    ModeChecks(),
    LossChecks(),
    GradChecks(),
    ActivationChecks(),
    ScheduleChecks(),
    DataChecks(),
    AlignmentChecks(),
    AmpChecks(),
)
"""Every runtime rule, in catalogue order."""

ENGINE_RULES: tuple[object, ...] = (
    *RULES,
    ENTRY_CHECKS,
    explain,
    judge_curve,
    judge_misaligned,
)
"""Every rule of the runtime engine, each declaring its ids (``dlpilot.tools._contract``): the rules
of a probed run, the entry checks, the mapping of a user exception to a finding and the overfit
verdict."""


# Findings that another finding of the same run can cause by itself: (cause id, how it does).
# When both are found the consequence says so, so that the cause is fixed first; a learning rate
# that looks too high under a doubled or accumulated gradient may be right once that is fixed.
CAUSES: dict[str, tuple[tuple[str, str], ...]] = {
    "lr.too-high": (
        ("loop.backward-twice", "every gradient is added twice"),
        ("loop.zero-grad-missing", "gradients accumulate across steps"),
        (
            "data.train-not-shuffled",
            "batches come in a fixed order (sorted data makes consecutive steps pull one way)",
        ),
        ("data.unnormalized", "the inputs are not normalized"),
    ),
    "grad.exploding": (
        ("loop.zero-grad-missing", "gradients accumulate across steps"),
        ("data.unnormalized", "the inputs are not normalized"),
    ),
    "loss.initial-mismatch": (
        ("data.unnormalized", "the inputs are not normalized"),
        ("loss.softmax-wrong-dim", "the softmax is taken over the batch"),
    ),
    "loss.negative": (("loss.label-out-of-range", "the targets are outside the loss's range"),),
}


def _note_causes(findings: list[Finding]) -> list[Finding]:
    found = {f.id for f in findings}
    out: list[Finding] = []
    for f in findings:
        causes = [(c, how) for c, how in CAUSES.get(f.id, ()) if c in found]
        if causes:
            said = "; ".join(f"{how} ({c})" for c, how in causes)
            ev = f.evidence[0]
            detail = {**ev.detail, "possible_causes": [c for c, _ in causes]}
            f = f.model_copy(
                update={
                    "message": f"{f.message} This may follow from another finding: {said}. "
                    "Fix that first and check again.",
                    "evidence": [ev.model_copy(update={"detail": detail}), *f.evidence[1:]],
                }
            )
        out.append(f)
    return out


def judge_all(run: ProbeRun, ctx: Context) -> list[Finding]:
    """Every rule's findings for one script-mode run (not merged); a finding another one can
    cause names it (``CAUSES``)."""
    out: list[Finding] = []
    for rule in RULES:
        out.extend(only_declared(rule, rule.judge(run, ctx)))
    return _note_causes(out)
