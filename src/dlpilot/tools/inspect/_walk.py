"""Finding a project's files and reading its Python sources, without ever crashing on them.

Discovery never follows a directory symlink (so symlink loops and links out of the tree cannot be
walked), skips directories that hold no project code (virtual environments, caches, build output,
VCS metadata), and is bounded in depth and file count. Reading decodes UTF-8, then the PEP 263
coding cookie; a file that cannot be decoded, is too large or does not parse is skipped with a
reason instead of stopping the inspection.
"""

from __future__ import annotations

import ast
import codecs
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Python files above this size are skipped: they are generated code or data, not training code,
and parsing them would dominate memory (the largest torch source file is about 0.6 MiB)."""

MAX_FILES = 100_000
"""Discovery stops after this many files, so a mistaken root (a home directory) stays bounded."""

MAX_DEPTH = 64
"""Directories nested deeper than this are not entered (no real project nests this deep)."""

SKIP_DIR_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".conda",
        "node_modules",
        "__pycache__",
        "site-packages",
        "dist-packages",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        ".eggs",
        ".idea",
        ".vscode",
        ".dlpilot",
    }
)
"""Directory names never entered: they hold installed packages, caches or build output."""

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


@dataclass
class Skipped:
    """A path that was not inspected, and why."""

    file: str
    reason: str


@dataclass
class Discovery:
    """Every file found under the root (relative, forward slashes), and what was left out."""

    paths: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    truncated: bool = False


def _is_skipped_dir(entry: os.DirEntry[str]) -> bool:
    if entry.name in SKIP_DIR_NAMES or entry.name.endswith(".egg-info"):
        return True
    # any virtual environment, whatever its name
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


def repository_root(path: Path) -> Path:
    """The repository a directory belongs to: the nearest directory at or above ``path`` that
    holds ``.git``, else ``path`` itself. Evidence paths are relative to it, in ``inspect`` and
    ``check`` alike."""
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return path


def discover(
    root: Path, *, max_files: int | None = None, max_depth: int | None = None
) -> Discovery:
    """List the files under ``root`` in a stable order (sorted per directory)."""
    max_files = MAX_FILES if max_files is None else max_files
    max_depth = MAX_DEPTH if max_depth is None else max_depth
    out = Discovery()
    # stack of (absolute dir, relative prefix, depth); popped last-in-first-out, pushed reversed
    stack: list[tuple[str, str, int]] = [(str(root), "", 0)]
    while stack:
        directory, prefix, depth = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            out.skipped.append(Skipped(prefix.rstrip("/") or ".", f"cannot list: {exc.strerror}"))
            continue
        subdirs: list[tuple[str, str, int]] = []
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    # A directory link may loop or leave the tree: never followed. File links are
                    # kept only when they resolve to a regular file inside the root.
                    if entry.is_dir(follow_symlinks=True):
                        continue
                    target = Path(entry.path).resolve()
                    if not target.is_relative_to(root) or not target.is_file():
                        continue
                    out.paths.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    if _is_skipped_dir(entry):
                        continue
                    if depth + 1 > max_depth:
                        out.skipped.append(Skipped(rel, f"nested deeper than {max_depth} levels"))
                        continue
                    subdirs.append((entry.path, rel + "/", depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    out.paths.append(rel)
            except OSError:
                continue  # vanished or unreadable entry: nothing to inspect
            if len(out.paths) >= max_files:
                out.truncated = True
                out.skipped.append(Skipped(rel, f"stopped after {max_files} files"))
                return out
        stack.extend(reversed(subdirs))
    return out


def decode_source(data: bytes) -> tuple[str | None, str]:
    """Return ``(text, "")`` or ``(None, reason)``: UTF-8 first, then the PEP 263 cookie."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        utf8_error = f"not UTF-8 (byte {exc.start})"
    for raw_line in data.split(b"\n", 2)[:2]:
        m = _COOKIE.match(raw_line)
        if m is None:
            continue
        name = m.group(1).decode("ascii", "replace")
        try:
            return data.decode(name), ""
        except LookupError:
            return None, f"{utf8_error} and unknown coding cookie {name!r}"
        except UnicodeDecodeError:
            return None, f"not valid {name} as its coding cookie declares"
    return None, f"{utf8_error} and no coding cookie"


@dataclass
class Parsed:
    """A source file read and parsed, or the reason it was not."""

    text: str | None = None
    tree: ast.Module | None = None
    reason: str = ""


def read_python(path: Path, *, max_bytes: int | None = None) -> Parsed:
    """Read and parse one Python file; every failure becomes a reason, never an exception."""
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return Parsed(reason="not a regular file")
        if st.st_size > max_bytes:
            return Parsed(reason=f"larger than {max_bytes} bytes ({st.st_size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        return Parsed(reason=f"cannot read: {exc.strerror or exc}")
    if len(data) > max_bytes:  # grew between stat and read
        return Parsed(reason=f"larger than {max_bytes} bytes")
    text, why = decode_source(data)
    if text is None:
        return Parsed(reason=why)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in user code are not ours
            tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "unknown line"
        return Parsed(text=text, reason=f"syntax error at {where}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError: NUL bytes; RecursionError: absurdly nested expressions
        return Parsed(text=text, reason=f"cannot parse: {type(exc).__name__}")
    return Parsed(text=text, tree=tree)


__all__ = [
    "MAX_DEPTH",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "SKIP_DIR_NAMES",
    "Discovery",
    "Parsed",
    "Skipped",
    "decode_source",
    "discover",
    "read_python",
    "repository_root",
]
