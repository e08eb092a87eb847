"""The directories the server may read and write, and the one check every path goes through.

:meth:`Roots.guard` is that check: it resolves ``..`` and every symlink of a path and refuses one
that does not end inside a root. Tool arguments go through :meth:`Roots.resolve` (which validates
the argument, then guards it); the tools are handed ``guard`` itself for every file they find on
their own (a curve reader walking a directory, a file a tool writes), so a link found inside a
root cannot lead outside it either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dlpilot.errors import InvalidArgument, PathNotAllowed

MAX_PATH_CHARS = 4096
"""Longest path argument accepted: Linux's PATH_MAX; a longer one cannot name a file."""

SHOWN_CHARS = 200
"""How much of a bad value an error message quotes (a 1 MB argument is named, not echoed)."""


def shorten(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters with the total length said."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


class Roots:
    """Allowed roots. A path is allowed when, after resolving ``..`` and every symlink, it lies
    inside one of them. Relative paths are taken relative to the first root. Roots are kept once
    each, in the order given."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        resolved: list[Path] = []
        for r in roots:
            try:
                p = Path(r).expanduser().resolve()
                is_dir = p.is_dir()
            except (OSError, RuntimeError, ValueError) as exc:
                raise InvalidArgument(f"root {shorten(str(r))} cannot be read: {exc}") from None
            if not is_dir:
                raise InvalidArgument(f"root {shorten(str(r))} is not a directory")
            if p not in resolved:
                resolved.append(p)
        if not resolved:
            raise InvalidArgument("at least one root directory is needed")
        self.paths: tuple[Path, ...] = tuple(resolved)

    @property
    def primary(self) -> Path:
        return self.paths[0]

    def inside(self, real: Path) -> bool:
        """Whether an already resolved path lies in a root."""
        return any(real == root or real.is_relative_to(root) for root in self.paths)

    def guard(self, path: str | os.PathLike[str]) -> Path:
        """The one check: ``path`` with ``..`` and every symlink resolved (a relative path is
        taken in the first root), or :class:`PathNotAllowed` when that lies outside the roots.
        A path that does not exist yet is resolved as far as it exists (a file about to be
        written through a dangling link is judged by where the link points)."""
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = self.primary / candidate
        try:
            real = candidate.resolve()  # follows symlinks, collapses ..
        except (OSError, RuntimeError) as exc:  # name too long, a symlink loop
            raise InvalidArgument(f"path {shorten(str(path))} cannot be resolved: {exc}") from None
        if self.inside(real):
            return real
        allowed = ", ".join(str(r) for r in self.paths)
        raise PathNotAllowed(
            f"path {shorten(str(path))} resolves to {shorten(str(real))}, outside the allowed "
            f"roots ({allowed}); start the server with --root to allow more"
        )

    def resolve(self, path: str) -> Path:
        """A path argument from a client, checked: a non-empty string without NUL bytes, at most
        :data:`MAX_PATH_CHARS` long, that :meth:`guard` allows."""
        if not isinstance(path, str) or not path.strip():
            raise InvalidArgument(f"path must be a non-empty string, got {shorten(path)}")
        if "\x00" in path:
            raise InvalidArgument(f"path {shorten(path)} contains a NUL byte")
        if len(path) > MAX_PATH_CHARS:
            raise InvalidArgument(
                f"path {shorten(path)} is longer than {MAX_PATH_CHARS} characters"
            )
        return self.guard(path)


__all__ = ["MAX_PATH_CHARS", "Roots", "shorten"]
