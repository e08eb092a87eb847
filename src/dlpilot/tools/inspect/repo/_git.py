"""Git access for the repository rules, through gitpython, tolerant of every non-git situation.

Every command runs with the inspected directory as its working directory, so the paths git reads
and prints are relative to the inspection root even when that root is a subdirectory of a
repository.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def _git() -> ModuleType:
    """gitpython, imported on first use: it costs ~0.1 s, which the server's start-up (import to
    ``tools/list``) should not pay. gitpython raises at import when no git executable is on PATH
    unless told to stay quiet; a missing git then reads as "not a git repository"."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import git

    return git


GIT_TIMEOUT_S = 60.0
"""Upper bound for one git command (ls-files of a huge monorepo), so inspection cannot hang."""


class GitError(Exception):
    """A git command failed in a way the rules report as "could not check"."""


class GitFacts:
    """A git work tree seen from one directory."""

    def __init__(self, root: Path, toplevel: Path) -> None:
        self.root = root
        self.toplevel = toplevel
        self._cmd = _git().Git(str(root))

    def run(self, *args: str, ok_status: tuple[int, ...] = (0,), stdin: bytes | None = None) -> str:
        """stdout of ``git <args>``; an exit status outside ``ok_status`` raises GitError."""
        try:
            with tempfile.TemporaryFile() as istream:
                if stdin is not None:
                    istream.write(stdin)
                    istream.seek(0)
                status, out, err = self._cmd.execute(
                    ["git", *args],
                    istream=istream if stdin is not None else None,
                    with_extended_output=True,
                    with_exceptions=False,
                    kill_after_timeout=GIT_TIMEOUT_S,
                )
        except (_git().GitCommandError, OSError) as exc:
            raise GitError(f"git {args[0]} failed: {exc}") from exc
        if status not in ok_status:
            raise GitError(f"git {args[0]} exited {status}: {str(err).strip()[:200]}")
        return str(out)

    def tracked(self) -> list[str]:
        """Paths in the index under the root, relative to it."""
        return [p for p in self.run("ls-files", "-z", "--cached").split("\0") if p]

    def has_head(self) -> bool:
        return bool(self.run("rev-parse", "--verify", "-q", "HEAD", ok_status=(0, 1)).strip())

    def ignored(self, paths: list[str]) -> set[str]:
        """The subset of ``paths`` (relative to the root) that git ignores. Paths need not exist;
        a trailing ``/`` marks a directory so that directory patterns (``data/``) apply."""
        if not paths:
            return set()
        # exit 1 means "none of these is ignored"
        data = "\0".join(paths).encode("utf-8", "surrogateescape") + b"\0"
        out = self.run("check-ignore", "-z", "--stdin", ok_status=(0, 1), stdin=data)
        return {p for p in out.split("\0") if p}


def open_git(root: Path) -> GitFacts | None:
    """The work tree containing ``root``, or None when there is none (or git is missing)."""
    try:
        repo = _git().Repo(root, search_parent_directories=True)
        top = repo.working_tree_dir
    except (_git().InvalidGitRepositoryError, _git().NoSuchPathError, OSError, ValueError):
        return None
    if top is None:  # a bare repository has no work tree
        return None
    facts = GitFacts(root, Path(top).resolve())
    try:
        inside = facts.run("rev-parse", "--is-inside-work-tree").strip()
    except GitError:
        return None
    if inside != "true":
        return None
    if root != facts.toplevel:
        # A directory the enclosing repository ignores (a virtual environment, a data dir) is
        # not part of that repository: inspect it as a plain directory.
        outer = GitFacts(facts.toplevel, facts.toplevel)
        rel = root.relative_to(facts.toplevel).as_posix() + "/"
        try:
            if outer.ignored([rel]):
                return None
        except GitError:
            return None
    return facts


__all__ = ["GIT_TIMEOUT_S", "GitError", "GitFacts", "open_git"]
