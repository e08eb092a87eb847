"""``dlpilot round``: walk one round of the runbook headless, from wherever it stands.

Steps 1-7 (and, with ``launch``, 8-9 after the trials) are answered by an :class:`Agent`: the
deterministic rules, or the Claude driver (``dlpilot.agent``, a hook). Before step 4 the driver
gathers what the runbook cannot run itself: a ``check`` of the training script and, when no curves
are recorded yet, one baseline run; with ``launch``, the trials. All of it goes through one
:class:`Launcher`. The runbook state is written after every step, so a round interrupted anywhere
continues where it stopped when run again.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dlpilot.errors import DlpilotError, InvalidArgument, SandboxError
from dlpilot.rounds._launcher import Launcher
from dlpilot.runbook import Runbook, RunbookError
from dlpilot.runbook._rules._evidence import curves_evidence
from dlpilot.tools.trials import fill, load_round


class Agent(Protocol):
    """Answers the runbook's current step (through the runbook's own operations)."""

    name: str

    def answer_step(self, runbook: Runbook, step: int, *, trials_cap: int | None) -> None: ...


class RulesAgent:
    """Takes the deterministic rules' proposal for each step (``--trials`` caps the budget)."""

    name = "rules"

    def answer_step(self, runbook: Runbook, step: int, *, trials_cap: int | None) -> None:
        proposal = runbook.propose(step)
        answer: dict[str, Any] = dict(proposal.answer)
        why = proposal.why
        if trials_cap is not None and step == 6 and int(str(answer["trials"])) > trials_cap:
            answer["trials"] = trials_cap
            why += f" Budget capped to {trials_cap} trials by --trials."
        runbook.answer(step, answer, by="rules", why=why, evidence=proposal.evidence)


def build_agent(requested: str) -> tuple[Agent, str]:
    """The agent for ``--agent requested`` and a line saying which was used and why. Which one is
    :func:`dlpilot.agent.choose_agent`'s decision (``MissingApiKey`` for ``claude`` without a
    key); this builds it."""
    from dlpilot.agent import API_KEY_ENV, choose_agent

    chosen, _ = choose_agent(requested)
    if chosen == "rules":
        why = f" ({API_KEY_ENV} is not set)" if requested == "auto" else ""
        return RulesAgent(), f"agent: rules{why}"
    agent = _claude_agent()
    if agent is None:
        if requested == "auto":
            return RulesAgent(), "agent: rules (the Claude driver is not available in this build)"
        raise InvalidArgument("--agent claude: the Claude driver (dlpilot.agent) is not available")
    return agent, "agent: claude"


def _claude_agent() -> Agent | None:
    """The hook: ``dlpilot.agent.claude_agent()`` returns an :class:`Agent` (built elsewhere)."""
    import dlpilot.agent

    factory = getattr(dlpilot.agent, "claude_agent", None)
    return factory() if callable(factory) else None


@dataclass
class RoundOutcome:
    """What a walk of one round did."""

    round: int
    agent: str
    stopped_at: int | None = None
    reason: str = ""
    round_file: str | None = None
    launched: bool = False
    notes: list[str] = field(default_factory=list)
    agent_usage: dict[str, Any] | None = None  # a language model's turns, tokens and cost


def walk_round(
    project: Path,
    *,
    agent: Agent,
    launcher: Launcher,
    launch: bool = False,
    trials_cap: int | None = None,
) -> RoundOutcome:
    """Answer steps of the current round until it closes, stops on bugs, or needs results."""
    runbook = Runbook(project)
    start = runbook.status()
    outcome = RoundOutcome(round=start.round, agent=agent.name)
    if trials_cap is not None and trials_cap < 1:
        raise InvalidArgument(f"--trials = {trials_cap} must be at least 1")
    if start.blocked:  # a new walk after bugs: check again from step 4 (it stops again if needed)
        revision = runbook.revise(4)
        outcome.notes.append(f"{revision.message}: the script is checked again")
    while True:
        status = runbook.status()
        if status.round != outcome.round:  # step 9 closed the round
            outcome.reason = f"round {outcome.round} closed; round {status.round} starts at step 4"
            outcome.stopped_at = None
            return outcome
        step = status.step
        if step is None:
            outcome.reason = "no step is open"
            return outcome
        if status.blocked and step >= 6:
            outcome.stopped_at = step
            outcome.reason = status.blocked
            return outcome
        if step == 4:
            _before_bottleneck(runbook, launcher, outcome)
        if step == 8:
            if not launch:
                outcome.stopped_at = 8
                outcome.reason = "the round file is ready; run it (or pass --launch)"
                return outcome
            _launch(runbook, launcher, trials_cap, outcome)
        try:
            try:
                agent.answer_step(runbook, step, trials_cap=trials_cap)
            finally:
                report_usage = getattr(agent, "summary", None)
                if callable(report_usage):
                    outcome.agent_usage = report_usage()
        except RunbookError as exc:
            outcome.stopped_at = step
            outcome.reason = str(exc)
            return outcome
        if step == 7:
            rnd = runbook.state().current
            outcome.round_file = str(project / rnd.round_file) if rnd.round_file else None


def _before_bottleneck(runbook: Runbook, launcher: Launcher, outcome: RoundOutcome) -> None:
    """Check the script and run the baseline once when no curves are recorded yet."""
    state = runbook.state()
    if state.latest("curves") is not None:
        return
    baseline = state.current.answers.get(3)
    command = str(baseline.answer.get("command") or "") if baseline else ""
    if not command:
        outcome.notes.append("no baseline command: nothing to check or run before step 4")
        return
    from dlpilot.runbook._rules._evidence import scan_of

    project_record = state.latest("project")
    scan = scan_of(project_record) if project_record else None
    cwd = runbook.project / Path(scan.entry).parent if scan and scan.entry else runbook.project
    rdir = runbook.round_dir(outcome.round)
    check_dir = rdir / "check"
    check_dir.mkdir(parents=True, exist_ok=True)
    argv = shlex.split(fill(command, {"trial_dir": str(check_dir), "seed": 0}))
    try:
        findings = launcher.check(argv, cwd)
    except (SandboxError, InvalidArgument) as exc:
        outcome.notes.append(f"check could not run: {exc}")
        findings = []
    else:
        data = {"findings": [f.model_dump(mode="json") for f in findings]}
        errors = sum(1 for f in findings if f.severity.value == "error")
        runbook.add_evidence(
            "check", f"dlpilot check -- {shlex.join(argv)}", data,
            f"{len(findings)} findings, {errors} errors",
        )  # fmt: skip
        if errors:
            outcome.notes.append(f"check: {errors} error-level findings; the baseline is not run")
            return
    run_dir = rdir / "baseline"
    try:
        seconds = launcher.baseline(command, cwd, run_dir)
    except DlpilotError as exc:
        outcome.notes.append(f"the baseline run failed: {exc}")
        return
    with runbook.store.transaction() as st:
        curves_evidence(st, run_dir, seconds=seconds, source=f"baseline run {command} ({run_dir})")
    outcome.notes.append(f"baseline run: {seconds:.1f} s, curves in {run_dir}")


def _launch(
    runbook: Runbook, launcher: Launcher, trials_cap: int | None, outcome: RoundOutcome
) -> None:
    rnd = runbook.state().current
    if not rnd.round_file:
        raise RunbookError("step 8: no round file (step 7) to launch")
    path = runbook.project / rnd.round_file
    name = load_round(path).name
    summary = launcher.run(path, trials_cap)
    runbook.add_evidence(
        "trials", f"dlpilot trials summary {name} --json", summary.model_dump(mode="json"),
        f"{len(summary.trials)} trials; best {summary.best.value if summary.best else None}",
    )  # fmt: skip
    outcome.launched = True


__all__ = ["Agent", "RoundOutcome", "RulesAgent", "build_agent", "walk_round"]
