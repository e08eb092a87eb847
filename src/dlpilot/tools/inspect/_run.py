"""Running the static rules over a project: discover, then stream every file through every rule."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding, merge_findings
from dlpilot.tools._contract import declared_ids, only_declared
from dlpilot.tools.control import Control
from dlpilot.tools.inspect import code, repo
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect._report import (
    InspectionReport,
    NotChecked,
    SkippedFile,
    count_by_severity,
)
from dlpilot.tools.inspect._walk import discover, read_python, repository_root
from dlpilot.tools.inspect.repo._git import GitError, open_git

PROGRESS_EVERY = 200
"""Files between progress reports: often enough for clients that time out without progress."""


def all_rules() -> list[type[Rule]]:
    """Every static rule: code rules, then repository rules."""
    return [*code.RULES, *repo.RULES]


def _root(path: str | Path) -> Path:
    try:
        p = Path(path).expanduser()
    except (TypeError, RuntimeError) as exc:
        raise InvalidArgument(f"not a usable path: {path!r}") from exc
    if not p.exists():
        raise InvalidArgument(f"path does not exist: {str(p)!r}")
    if not p.is_dir():
        raise InvalidArgument(f"path is not a directory: {str(p)!r}")
    return p.resolve()


def _project(root: Path, all_paths: list[str]) -> Project:
    facts = open_git(root)
    tracked: list[str] = []
    if facts is not None:
        try:
            tracked = facts.tracked()
        except GitError:
            tracked = []
    return Project(root=root, all_paths=all_paths, is_git=facts is not None, tracked=tracked)


def _checks_run(rules: Sequence[Rule]) -> list[str]:
    ids: list[str] = []
    for rule in rules:
        ids.extend(i for i in type(rule).ids if i not in ids)
    return ids


def run_rules(
    project: Project,
    py_paths: Iterable[str],
    rule_classes: Sequence[type[Rule]],
    *,
    control: Control | None = None,
    total: int | None = None,
    skipped: list[SkippedFile] | None = None,
    timings: dict[str, float] | None = None,
) -> InspectionReport:
    """Read, parse and show each file to every rule, then call every rule's ``finish``.

    ``timings``, when given, receives the seconds each rule class spent (visit and finish), for
    the benchmark.
    """
    control = control or Control()
    skipped = list(skipped or [])
    rules = [cls() for cls in rule_classes]
    names = [type(r).__name__ for r in rules]
    declared = [declared_ids(r) for r in rules]  # the rule contract: any other id is refused
    found: list[Finding] = []
    scanned = 0
    done = 0
    cancelled = False
    for rel in py_paths:
        if control.cancelled:
            cancelled = True
            break
        parsed = read_python(project.root / rel)
        if parsed.tree is None or parsed.text is None:
            skipped.append(SkippedFile(file=rel, reason=parsed.reason))
        else:
            sf = SourceFile(rel=rel, path=project.root / rel, text=parsed.text, tree=parsed.tree)
            for rule, name, ids in zip(rules, names, declared, strict=True):
                t0 = time.perf_counter() if timings is not None else 0.0
                try:
                    found.extend(only_declared(rule, rule.visit(sf), ids))
                except RecursionError:
                    skipped.append(SkippedFile(file=rel, reason=f"too deeply nested for {name}"))
                if timings is not None:
                    timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            scanned += 1
        done += 1
        if done % PROGRESS_EVERY == 0:
            control.progress(done, total, f"inspected {done} of {total or '?'} Python files")
    not_checked: list[NotChecked] = []
    if not cancelled:
        for rule, name, ids in zip(rules, names, declared, strict=True):
            t0 = time.perf_counter() if timings is not None else 0.0
            found.extend(only_declared(rule, rule.finish(project), ids))
            for id_, reason in getattr(rule, "not_checked", ()):
                not_checked.append(NotChecked(id=id_, reason=reason))
            if timings is not None:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
    control.progress(done, total, "inspection cancelled" if cancelled else "inspection finished")
    findings = merge_findings(found)
    return InspectionReport(
        root=str(project.root),
        findings=findings,
        files_scanned=scanned,
        skipped=skipped,
        is_git=project.is_git,
        counts=count_by_severity(findings),
        checks_run=_checks_run(rules),
        not_checked=not_checked,
        cancelled=cancelled,
    )


def inspect_repo(path: str | Path, *, control: Control | None = None) -> InspectionReport:
    """Statically inspect the project at ``path`` with every code and repository rule.

    Raises InvalidArgument when ``path`` is missing or not a directory. Files that cannot be read
    or parsed are listed in ``skipped``; git checks in a non-git directory say so in
    ``not_checked``. Cancelling through ``control.cancel`` returns the findings so far, marked
    ``cancelled``, without the project-level ones.
    """
    root = _root(path)
    control = control or Control()
    found = discover(root)
    skipped = [SkippedFile(file=s.file, reason=s.reason) for s in found.skipped]
    project = _project(root, found.paths)
    py_paths = [p for p in found.paths if p.endswith(".py")]
    control.progress(0, len(py_paths), f"found {len(found.paths)} files")
    report = run_rules(
        project, py_paths, all_rules(), control=control, total=len(py_paths), skipped=skipped
    )
    return _from_repository_root(report, root)


def _from_repository_root(report: InspectionReport, inspected: Path) -> InspectionReport:
    """The rules see only the inspected directory; when it lies inside a repository, its paths
    are given from the repository root (as ``check`` gives them) and ``scope`` names it."""
    base = repository_root(inspected)
    if base == inspected:
        return report
    scope = inspected.relative_to(base).as_posix()

    def moved(file: str) -> str:
        return file if Path(file).is_absolute() else f"{scope}/{file}"

    findings = [
        f.model_copy(
            update={
                "evidence": [
                    e.model_copy(update={"file": moved(e.file)}) if e.file else e
                    for e in f.evidence
                ]
            }
        )
        for f in report.findings
    ]
    skipped = [s.model_copy(update={"file": moved(s.file)}) for s in report.skipped]
    return report.model_copy(
        update={"root": str(base), "scope": scope, "findings": findings, "skipped": skipped}
    )


def inspect_files(
    root: str | Path, paths: Iterable[str | Path], *, control: Control | None = None
) -> InspectionReport:
    """Run the code rules (not the repository ones) on just ``paths``, relative to ``root`` or
    absolute inside it; paths outside the root, missing or not Python are skipped with a reason."""
    base = _root(root)
    rels: list[str] = []
    skipped: list[SkippedFile] = []
    for p in paths:
        raw = Path(p)
        full = (raw if raw.is_absolute() else base / raw).resolve()
        if not full.is_relative_to(base):
            skipped.append(SkippedFile(file=str(p), reason="outside the inspected root"))
            continue
        rel = full.relative_to(base).as_posix()
        if not full.is_file():
            skipped.append(SkippedFile(file=rel, reason="not a file"))
        elif full.suffix != ".py":
            skipped.append(SkippedFile(file=rel, reason="not a Python file"))
        elif rel not in rels:
            rels.append(rel)
    project = _project(base, rels)
    return run_rules(
        project, rels, list(code.RULES), control=control, total=len(rels), skipped=skipped
    )


__all__ = ["PROGRESS_EVERY", "all_rules", "inspect_files", "inspect_repo", "run_rules"]
