"""The directories the server may read and write, and the one check every path goes through."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dlpilot.errors import InvalidArgument, PathNotAllowed


class Roots:
    """Allowed roots. A path is allowed when, after resolving ``..`` and every symlink, it lies
    inside one of them. Relative paths are taken relative to the first root."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        resolved: list[Path] = []
        for r in roots:
            p = Path(r).expanduser().resolve()
            if not p.is_dir():
                raise InvalidArgument(f"root {str(r)!r} is not a directory")
            resolved.append(p)
        if not resolved:
            raise InvalidArgument("at least one root directory is needed")
        self.paths: tuple[Path, ...] = tuple(resolved)

    @property
    def primary(self) -> Path:
        return self.paths[0]

    def resolve(self, path: str) -> Path:
        """Return the resolved path, or raise PathNotAllowed naming it and the roots."""
        if not isinstance(path, str) or not path.strip():
            raise InvalidArgument(f"path must be a non-empty string, got {path!r}")
        if "\x00" in path:
            raise InvalidArgument(f"path {path!r} contains a NUL byte")
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = self.primary / candidate
        real = candidate.resolve()  # follows symlinks, collapses ..
        for root in self.paths:
            if real == root or real.is_relative_to(root):
                return real
        allowed = ", ".join(str(r) for r in self.paths)
        raise PathNotAllowed(
            f"path {path!r} resolves to {str(real)!r}, outside the allowed roots ({allowed}); "
            "start the server with --root to allow more"
        )


__all__ = ["Roots"]
