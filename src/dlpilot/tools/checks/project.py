"""One check of a project: its training script under the probe, plus, when the project has a
``[tool.dlpilot]`` table, the entry-point checks that need its parts separately.

This is what ``dlpilot check`` and the MCP tool ``check_script`` run, so that both give the same
merged, de-duplicated list of findings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding, merge_findings
from dlpilot.tools.checks._models import CheckReport, OverfitResult
from dlpilot.tools.checks.entry._results import EntryReport
from dlpilot.tools.control import Control, PathGuard


class ProjectCheck(BaseModel):
    """Findings of every part that ran, merged; the part reports for their details."""

    cwd: str
    findings: list[Finding]
    script: CheckReport | None = Field(default=None, description="script mode, when a command ran")
    entry: EntryReport | None = Field(
        default=None, description="entry-point mode, when the project has a [tool.dlpilot] table"
    )
    notes: list[str] = Field(default_factory=list, description="what was skipped, and why")
    error: str | None = Field(
        default=None,
        description=(
            "set when nothing was checked: the script never reached a training step and no "
            "finding explains why (the CLI exits 2, the MCP result is an error)"
        ),
    )

    @property
    def overfit(self) -> OverfitResult | None:
        """The overfit test of whichever part ran it (the script's, else the entry points')."""
        if self.script is not None and self.script.overfit is not None:
            return self.script.overfit
        return self.entry.overfit if self.entry is not None else None


def check_project(
    argv: list[str] | None,
    *,
    cwd: Path,
    entry: bool | None = None,
    steps: int | None = None,
    overfit: bool = True,
    overfit_steps: int | None = None,
    timeout_s: float | None = None,
    no_network: bool = False,
    control: Control | None = None,
    guard: PathGuard | None = None,
    env: dict[str, str] | None = None,
    pass_env: list[str] | None = None,
) -> ProjectCheck:
    """Run the script (``argv``) under the probe and, when ``entry`` is not False and ``cwd`` has a
    ``[tool.dlpilot]`` table, the entry-point checks. ``entry=True`` requires the table.

    The single-batch overfit test runs once: on the real script when there is one, otherwise
    through the entry factories. ``None`` means the default of the part that runs; ``env`` and
    ``pass_env`` reach the script (see :func:`~dlpilot.tools.checks.check_script`)."""
    from dlpilot.tools.checks._overfit import DEFAULT_OVERFIT_STEPS
    from dlpilot.tools.checks._run import DEFAULT_TIMEOUT_S, check_script
    from dlpilot.tools.checks.entry._api import run_entry_checks
    from dlpilot.tools.checks.entry._config import find_table

    control = control or Control()
    overfit_steps = DEFAULT_OVERFIT_STEPS if overfit_steps is None else overfit_steps
    timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    cwd = Path(cwd)
    if not argv and entry is False:
        raise InvalidArgument("nothing to check: give a training command, or allow entry mode")
    has_table = find_table(cwd.resolve()) is not None if cwd.is_dir() else False
    if entry is True and not has_table:
        raise InvalidArgument(
            f"entry mode asked for, but {cwd} has no [tool.dlpilot] table; "
            "`dlpilot init` drafts one"
        )
    if not argv and not has_table:
        raise InvalidArgument(
            f"no training command given and no [tool.dlpilot] table in {cwd}: use "
            "`dlpilot check -- python train.py ...`, or `dlpilot init` to draft a table"
        )
    notes: list[str] = []
    script = None
    if argv:
        script = check_script(
            argv,
            cwd=cwd,
            steps=steps,
            overfit=overfit,
            overfit_steps=overfit_steps,
            timeout_s=timeout_s,
            no_network=no_network,
            control=control,
            guard=guard,
            env=env,
            pass_env=pass_env,
        )
    entry_report = None
    if has_table and entry is not False:
        entry_report = run_entry_checks(
            cwd, overfit=overfit and script is None, overfit_steps=overfit_steps, control=control
        )
    elif not has_table:
        notes.append(
            "entry-point checks skipped: no [tool.dlpilot] table (label range against output "
            "size, initial loss, split overlap, LR range test need one; `dlpilot init` drafts it)"
        )
    parts: list[Finding] = []
    for report in (script, entry_report):
        if report is not None:
            parts += report.findings
    findings = merge_findings(parts)
    error = None
    if (
        script is not None
        and script.not_checked is not None
        and not any(f.severity == "error" for f in findings)
    ):
        what = "the script was not checked" if entry_report is not None else "nothing was checked"
        error = f"{what}: {script.not_checked}"
    elif script is not None and script.not_checked is not None:
        notes.append(f"no runtime checks: {script.not_checked}")
    return ProjectCheck(
        cwd=str(cwd),
        findings=findings,
        script=script,
        entry=entry_report,
        notes=notes,
        error=error,
    )


__all__ = ["ProjectCheck", "check_project"]
