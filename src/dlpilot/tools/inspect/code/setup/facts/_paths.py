"""Machine-specific absolute paths in string literals."""

from __future__ import annotations

import re

from dlpilot.tools.inspect.code.setup.facts._context import WalkContext

# Absolute, machine-specific locations: a user's home (Linux, macOS, Windows, root), a Windows
# drive, cluster file systems and Colab's Google Drive. System and shared locations (/tmp, /dev,
# /proc, /etc, /usr, /opt, /var) and container mounts (/mnt, /data, /workspace) are portable
# enough and not reported; ``~/...`` is portable through ``expanduser``. A bare location prefix
# ("/root/", "/scratch/") names no machine's path: something must follow it.
_MACHINE_PATH = re.compile(
    r"(?:^|[\s=\"'(,;])((?:/home/[^/\s\"']+|/Users/[^/\s\"']+)/[^\s\"',;]*"
    r"|(?:/root|/scratch|/gpfs|/lustre|/content/drive)/[^\s\"',;]+"
    r"|[A-Za-z]:\\{1,2}[^\s\"',;]+|[A-Za-z]:/[^\s\"',;/]+[^\s\"',;]*)"
)


class PathFacts(WalkContext):
    """Collects ``path_issues``."""

    def _path(self, value: str, line: int) -> None:
        m = _MACHINE_PATH.search(value)
        if m is not None:
            self.facts.path_issues.append((line, m.group(1)))


__all__ = ["PathFacts"]
