"""Static rules on the repository itself: README, tests, git hygiene, secrets, dependency pins."""

from __future__ import annotations

from dlpilot.tools.inspect._base import Rule
from dlpilot.tools.inspect.repo._deps import UnpinnedDeps
from dlpilot.tools.inspect.repo._gitchecks import Dirty, GitignoreArtifacts, LargeFiles
from dlpilot.tools.inspect.repo._layout import NoReadme, NoTests
from dlpilot.tools.inspect.repo._secrets import Secrets

RULES: list[type[Rule]] = [
    NoReadme,
    NoTests,
    GitignoreArtifacts,
    LargeFiles,
    Secrets,
    Dirty,
    UnpinnedDeps,
]
__all__ = ["RULES"]
