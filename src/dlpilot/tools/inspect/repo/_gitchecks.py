"""Git hygiene: artifacts not ignored, large committed files, uncommitted changes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, SourceFile, is_test_path
from dlpilot.tools.inspect.repo._common import (
    ARTIFACT_DIR_NAMES,
    ARTIFACT_SUFFIXES,
    RepoRule,
    is_artifact_file,
)
from dlpilot.tools.inspect.repo._git import GitError, GitFacts, open_git
from dlpilot.tools.inspect.repo._lightning import trainer_writes

LARGE_FILE_BYTES = 5 * 1024 * 1024
"""Any committed file above 5 MiB is flagged: source, configs and docs stay far below it, and
git hosts start warning at tens of MiB, by which time every clone already pays for it."""

LARGE_ARTIFACT_BYTES = 1024 * 1024
"""Checkpoints, arrays and datasets (by suffix) are flagged from 1 MiB: small fixtures are fine."""

MAX_REPORTED = 50
"""At most this many paths are reported per rule; the rest are counted in the last finding."""

_PLACEHOLDER_NAMES = frozenset({".gitkeep", ".keep", ".gitignore", "README.md", "README"})
_NOT_GIT = "not a git repository"

# string literals that name an artifact path: "checkpoints/best.pt", "./runs", "model.ckpt"
_DIRS = "|".join(sorted(ARTIFACT_DIR_NAMES, key=len, reverse=True))
_SUFFIXES = "|".join(s.lstrip(".") for s in sorted(ARTIFACT_SUFFIXES, key=len, reverse=True))
# "data", "./runs", "checkpoints/best.pt": a literal that starts with an artifact directory
_DIR_LITERAL = re.compile(rf"""["'](?:\./)?(?:{_DIRS})(?:/[^"'\n]{{0,200}})?["']""")
# found by its suffix, then read back to the opening quote (a pattern that starts at every quote
# and scans ahead for a suffix is many times slower)
_SUFFIX_END = re.compile(rf"""\.(?:{_SUFFIXES})(?=["'])""")
# a bare directory name counts only when handed to a path-making call or a directory keyword
_PATH_CONTEXT = re.compile(
    r"(?:\b(?:Path|join|makedirs|mkdir|open|save|ImageFolder|\w*Logger|\w*Writer)\(\s*|"
    r"\b(?:root|dirpath|save_dir|log_dir|logdir|output_dir|default_root_dir|data_dir|"
    r"checkpoint_dir|ckpt_dir|default)\s*=\s*)$"
)
# a bare file name ("best.pt") counts only as a direct argument of a call that reads or writes it;
# elsewhere it is usually joined to a directory (ckpt_dir / "best.pt") that decides where it lands
_FILE_CONTEXT = re.compile(
    r"\b(?:save|load|open|savez|savez_compressed|dump|to_csv|to_parquet|savefig|FileHandler)"
    r"\((?:[^\"'()/\n]*,)?\s*$"
)
# default directories written by trackers when the code does not name one
_IMPLICIT = (
    ("wandb", re.compile(r"\bwandb\.init\("), "wandb/"),
    ("SummaryWriter", re.compile(r"\bSummaryWriter\(\s*\)"), "runs/"),
    (
        "mlflow",
        re.compile(r"\bmlflow\.(?:start_run|log_metric|log_metrics|log_param)\("),
        "mlruns/",
    ),
)
# Lightning's Trainer: what it writes depends on its arguments (``_lightning.trainer_writes``)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _candidate(literal: str) -> str | None:
    """The path (a directory ends with ``/``) that an artifact literal makes git see."""
    if "://" in literal or literal.startswith(("/", "~", "..")):
        return None
    parts = literal.split("/")
    if parts[0] in ARTIFACT_DIR_NAMES:
        return parts[0] + "/"
    if "{" in literal or "%" in literal:  # formatted names: keep the suffix, drop the fields
        head = literal.rsplit("/", 1)
        literal = (
            (head[0] + "/" if len(head) == 2 else "")
            + "dlpilot-probe"
            + (PurePosixPath(literal).suffix)
        )
        if "{" in literal or "%" in literal:
            return None
    return literal


class _CodeStrings:
    """The string constants and call lines of a parsed file: a text match counts only when it is
    a string the code holds (not a comment, not a fragment of a larger string such as an embedded
    example program) or, for a tracker's default directory, a real call."""

    def __init__(self, tree: ast.Module) -> None:
        self.constants: set[str] = set()
        self.fstring_heads: set[str] = set()
        self.call_lines: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.constants.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and isinstance(head.value, str) and head.value:
                    self.fstring_heads.add(head.value)
            elif isinstance(node, ast.Call):
                self.call_lines.add(node.lineno)

    def has_literal(self, literal: str) -> bool:
        if literal in self.constants:
            return True
        return any(literal.startswith(head) for head in self.fstring_heads)


class GitignoreArtifacts(RepoRule):
    """Data, checkpoint and log paths that exist or that the code writes to must be ignored."""

    ids: ClassVar[tuple[str, ...]] = ("repo.gitignore-artifacts",)

    def __init__(self) -> None:
        super().__init__()
        self.written: dict[str, tuple[str, int]] = {}  # candidate -> (file, line) first seen

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        if is_test_path(f.rel):
            return ()  # tests write into temporary directories; existing artifacts still count
        text = f.text
        literals: list[tuple[str, int]] = []
        for m in _DIR_LITERAL.finditer(text):
            literal = m.group(0)[1:-1]
            if "/" not in literal.removeprefix("./").rstrip("/"):
                before = text[max(0, m.start() - 60) : m.start()].rsplit("\n", 1)[-1]
                if not _PATH_CONTEXT.search(before):
                    continue
            literals.append((literal, m.start()))
        for m in _SUFFIX_END.finditer(text):
            quote = text[m.end()]
            start = text.rfind(quote, max(0, m.start() - 200), m.start())
            if start < 0 or "\n" in text[start : m.end()]:
                continue
            literal = text[start + 1 : m.end()]
            if "/" not in literal.removeprefix("./"):
                before = text[max(0, start - 80) : start].rsplit("\n", 1)[-1]
                if before.endswith("f"):  # an f-string prefix
                    before = before[:-1]
                if not _FILE_CONTEXT.search(before):
                    continue
            literals.append((literal, start))
        implicit = [
            (cand, hit)
            for needle, pattern, cand in _IMPLICIT
            if cand not in self.written and needle in text and (hit := pattern.search(text))
        ]
        lightning = trainer_writes(f.tree) if "Trainer" in text and "lightning" in text else []
        if not literals and not implicit and not lightning:
            return ()
        code = _CodeStrings(f.tree)  # the text matched comments and strings too: confirm in code
        for literal, pos in literals:
            cand = _candidate(literal.removeprefix("./"))
            if cand is not None and cand not in self.written and code.has_literal(literal):
                self.written[cand] = (f.rel, _line_of(text, pos))
        for cand, hit in implicit:
            line = _line_of(text, hit.start())
            if cand not in self.written and line in code.call_lines:
                self.written[cand] = (f.rel, line)
        for cand, line in lightning:
            self.written.setdefault(cand, (f.rel, line))
        return ()

    def _existing(self, project: Project) -> tuple[dict[str, list[str]], list[str]]:
        """Artifact directories (holding no Python code) with their files, and loose artifacts."""
        code_dirs: set[str] = set()
        for p in project.all_paths:
            if p.endswith(".py"):
                parts = p.split("/")[:-1]
                code_dirs.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
        dirs: dict[str, list[str]] = {}
        loose: list[str] = []
        for p in project.all_paths:
            parts = p.split("/")
            owner = None
            for i, part in enumerate(parts[:-1]):
                d = "/".join(parts[: i + 1]) + "/"
                if part in ARTIFACT_DIR_NAMES and d not in code_dirs:
                    owner = d
                    break
            if owner is not None:
                dirs.setdefault(owner, [])
                if parts[-1] not in _PLACEHOLDER_NAMES:
                    dirs[owner].append(p)
            elif is_artifact_file(p) or parts[-1] == ".env":
                loose.append(p)
        return dirs, loose

    def finish(self, project: Project) -> Iterable[Finding]:
        facts = open_git(project.root) if project.is_git else None
        if facts is None:
            self.cannot_check("repo.gitignore-artifacts", _NOT_GIT)
            return []
        dirs, loose = self._existing(project)
        probes = {d: d + "dlpilot-probe.bin" for d in dirs}
        probes.update({c: c + "dlpilot-probe.bin" for c in self.written if c.endswith("/")})
        asked = sorted(
            {
                *probes.values(),
                *loose,
                *(f for fs in dirs.values() for f in fs),
                *(c for c in self.written if not c.endswith("/")),
            }
        )
        try:
            ignored = facts.ignored(asked)
        except GitError as exc:
            self.cannot_check("repo.gitignore-artifacts", str(exc))
            return []
        out: list[Finding] = []
        for d, files in sorted(dirs.items()):
            bad = [f for f in files if f not in ignored]
            if probes[d] not in ignored and (bad or not files):
                out.append(self._finding(d, None, bad))
        for p in loose:
            if p not in ignored and not any(p.startswith(d) for d in dirs):
                out.append(self._finding(p, None, []))
        for cand, (src, line) in sorted(self.written.items()):
            if cand in dirs or any(cand.startswith(d) for d in dirs) or cand in loose:
                continue  # already judged from what exists
            probe = probes.get(cand, cand)
            if probe not in ignored:
                out.append(self._finding(cand, (src, line), []))
        return _capped(out, "repo.gitignore-artifacts")

    @staticmethod
    def _finding(path: str, written_at: tuple[str, int] | None, bad: list[str]) -> Finding:
        kind = "directory" if path.endswith("/") else "file"
        if written_at is not None:
            msg = (
                f"the code writes or reads `{path}`, which .gitignore does not exclude: "
                "add it to .gitignore"
            )
            return finding(
                "repo.gitignore-artifacts",
                msg,
                how="static",
                file=written_at[0],
                line=written_at[1],
                detail={"path": path},
            )
        msg = f"{kind} `{path}` holds data, checkpoints or logs and is not ignored by git"
        if bad:
            msg += f" ({len(bad)} file{'s' if len(bad) != 1 else ''} not ignored)"
        return finding(
            "repo.gitignore-artifacts",
            msg,
            how="static",
            file=path.rstrip("/"),
            detail={"path": path, "not_ignored": list(bad[:10])},
        )


def _capped(found: list[Finding], id_: str) -> list[Finding]:
    if len(found) <= MAX_REPORTED:
        return found
    rest = len(found) - MAX_REPORTED + 1
    summary = finding(
        id_, f"... and {rest} more paths like these", how="static", detail={"more": rest}
    )
    return [*found[: MAX_REPORTED - 1], summary]


def _fmt_size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


class LargeFiles(RepoRule):
    """Committed blobs above the size thresholds, read from ``git ls-tree -l HEAD``."""

    ids: ClassVar[tuple[str, ...]] = ("repo.large-files",)

    def finish(self, project: Project) -> Iterable[Finding]:
        facts = open_git(project.root) if project.is_git else None
        if facts is None:
            self.cannot_check("repo.large-files", _NOT_GIT)
            return []
        try:
            if not facts.has_head():
                self.cannot_check("repo.large-files", "no commit yet")
                return []
            listing = facts.run("ls-tree", "-r", "-l", "-z", "HEAD")
        except GitError as exc:
            self.cannot_check("repo.large-files", str(exc))
            return []
        out: list[Finding] = []
        for entry in listing.split("\0"):
            meta, _, path = entry.partition("\t")
            fields = meta.split()
            if len(fields) != 4 or fields[1] != "blob" or not fields[3].isdigit():
                continue
            size = int(fields[3])
            limit = LARGE_ARTIFACT_BYTES if is_artifact_file(path) else LARGE_FILE_BYTES
            if size > limit:
                out.append(
                    finding(
                        "repo.large-files",
                        f"`{path}` ({_fmt_size(size)}) is committed; keep checkpoints and data "
                        "out of git (.gitignore, git-lfs, DVC or an artifact store)",
                        how="static",
                        file=path,
                        detail={"bytes": size, "threshold": limit},
                    )
                )
        out.sort(key=lambda f: -int(str(f.evidence[0].detail["bytes"])))
        return _capped(out, "repo.large-files")


def _status_counts(facts: GitFacts) -> tuple[dict[str, int], list[str]]:
    out = facts.run("status", "--porcelain=v1", "-z", "--untracked-files=normal", "--", ".")
    counts = {"staged": 0, "modified": 0, "untracked": 0}
    paths: list[str] = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        e = entries[i]
        i += 1
        if len(e) < 4:
            continue
        xy, path = e[:2], e[3:]
        if xy[0] in "RC":
            i += 1  # the original path of a rename or copy follows
        paths.append(path)
        if xy == "??":
            counts["untracked"] += 1
            continue
        if xy[0] not in " ?":
            counts["staged"] += 1
        if xy[1] not in " ?":
            counts["modified"] += 1
    return counts, paths


class Dirty(RepoRule):
    """Uncommitted changes under the root, counted as staged, modified and untracked."""

    ids: ClassVar[tuple[str, ...]] = ("repo.dirty",)

    def finish(self, project: Project) -> Iterable[Finding]:
        facts = open_git(project.root) if project.is_git else None
        if facts is None:
            self.cannot_check("repo.dirty", _NOT_GIT)
            return []
        try:
            counts, paths = _status_counts(facts)
        except GitError as exc:
            self.cannot_check("repo.dirty", str(exc))
            return []
        if not paths:
            return []
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        return [
            finding(
                "repo.dirty",
                f"uncommitted changes: {', '.join(parts)}; commit before a trial so its results "
                "can be traced to a commit",
                how="static",
                detail={**counts, "paths": list(paths[:10])},
            )
        ]


__all__ = ["LARGE_ARTIFACT_BYTES", "LARGE_FILE_BYTES", "Dirty", "GitignoreArtifacts", "LargeFiles"]
