"""repo.no-readme and repo.no-tests: what the file listing alone tells."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, is_test_path
from dlpilot.tools.inspect.repo._common import RepoRule

README_MAX_BYTES = 1024 * 1024
"""Only the first MiB of a README is read for setup instructions (plenty for any real README)."""

_SETUP_WORDS = re.compile(
    r"install|setup|set up|getting started|quick ?start|usage|requirements|pip |conda |uv |"
    r"poetry|docker|how to run|python \S+\.py",
    re.IGNORECASE,
)


class NoReadme(RepoRule):
    """A README at the root, and one that says how to set the project up."""

    ids: ClassVar[tuple[str, ...]] = ("repo.no-readme",)

    def finish(self, project: Project) -> Iterable[Finding]:
        readmes = [p for p in project.all_paths if "/" not in p and p.lower().startswith("readme")]
        if not readmes:
            return [
                finding(
                    "repo.no-readme",
                    "no README at the project root: add one with setup and run instructions",
                    how="static",
                )
            ]
        rel = sorted(readmes, key=lambda p: (not p.lower().endswith(".md"), p))[0]
        try:
            with (project.root / rel).open("rb") as fh:
                text = fh.read(README_MAX_BYTES).decode("utf-8", "replace")
        except OSError:
            return []
        if _SETUP_WORDS.search(text):
            return []
        return [
            finding(
                "repo.no-readme",
                f"{rel} does not say how to install or run the project",
                how="static",
                file=rel,
            )
        ]


class NoTests(RepoRule):
    """Some test file or test directory exists."""

    ids: ClassVar[tuple[str, ...]] = ("repo.no-tests",)

    def finish(self, project: Project) -> Iterable[Finding]:
        if any(is_test_path(p) for p in project.all_paths):
            return []
        return [
            finding(
                "repo.no-tests",
                "no tests found (no tests/ directory, no test_*.py files)",
                how="static",
            )
        ]


__all__ = ["NoReadme", "NoTests"]
