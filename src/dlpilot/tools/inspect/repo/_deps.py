"""repro.unpinned-deps: dependencies that do not fix exact versions and no lock file does."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any, ClassVar

from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project
from dlpilot.tools.inspect.repo._common import RepoRule

DEPS_FILE_MAX_BYTES = 1024 * 1024
"""Dependency files above 1 MiB are not read (no real one comes close)."""

LOCK_NAMES = frozenset(
    {
        "poetry.lock",
        "uv.lock",
        "Pipfile.lock",
        "pdm.lock",
        "conda-lock.yml",
        "pixi.lock",
        "requirements.lock",
        "pylock.toml",
    }
)
_REQ_FILE = re.compile(r"(?:^|/)requirements[^/]*\.txt$|(?:^|/)requirements/[^/]+\.txt$")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _is_lock(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return (
        name in LOCK_NAMES
        or name.endswith((".conda-lock.yml", ".lock.yml"))
        or (name.startswith("pylock.") and name.endswith(".toml"))
    )


def _pinned(spec: str) -> bool:
    """``torch==2.3.1``, ``x===1``, a direct reference pinned to a commit, or hashed."""
    if "==" in spec or "--hash" in spec:
        return True
    return bool(re.search(r"@\s*\S+@[0-9a-f]{7,40}\b|@[0-9a-f]{40}\b", spec))


def unpinned_requirements(text: str) -> list[tuple[int, str]]:
    """``(line, name)`` of each requirement in a requirements file that is not pinned."""
    out: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):  # comments, -r/-c/-e/--index-url options
            continue
        spec = line.split(";", 1)[0]
        if _pinned(spec):
            continue
        m = _REQ_NAME.match(spec)
        out.append((lineno, m.group(1) if m else spec[:40]))
    return out


def _pyproject_ranges(data: dict[str, Any]) -> list[str]:
    """Dependency specs of [project] and [tool.poetry] that are not exact pins."""
    specs: list[str] = []
    project = data.get("project")
    if isinstance(project, dict):
        specs += [s for s in project.get("dependencies", []) if isinstance(s, str)]
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict) and isinstance(poetry.get("dependencies"), dict):
        for name, v in poetry["dependencies"].items():
            if name == "python":
                continue
            version = v.get("version", "") if isinstance(v, dict) else str(v)
            exact = re.fullmatch(r"=*\s*\d[\w.]*", version or "")
            specs.append(f"{name}=={version}" if exact else f"{name} {version}")
    return [s for s in specs if not _pinned(s)]


def _conda_unpinned(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\S*)\s*$", line)
        if m and m.group(1) != "pip" and "=" not in m.group(2) + line[m.end(1) :]:
            out.append(m.group(1))
    return out


class UnpinnedDeps(RepoRule):
    """Requirements without ``==`` pins, or pyproject / conda / Pipfile ranges, and no lock."""

    ids: ClassVar[tuple[str, ...]] = ("repro.unpinned-deps",)

    def _read(self, project: Project, rel: str) -> str | None:
        try:
            path = project.root / rel
            if path.stat().st_size > DEPS_FILE_MAX_BYTES:
                return None
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def finish(self, project: Project) -> Iterable[Finding]:
        paths = project.all_paths
        if any(_is_lock(p) for p in paths):
            return []
        top = set(p for p in paths if "/" not in p)
        out: list[Finding] = []
        declared = False
        any_pinned_file = False
        for rel in (p for p in paths if _REQ_FILE.search(p)):
            text = self._read(project, rel)
            if text is None:
                continue
            declared = True
            loose = unpinned_requirements(text)
            if not loose:
                any_pinned_file = True
                continue
            names = [n for _, n in loose]
            out.append(
                finding(
                    "repro.unpinned-deps",
                    f"{rel}: {len(loose)} requirement{'s' if len(loose) != 1 else ''} without "
                    f"an exact `==` pin ({', '.join(names[:5])}"
                    f"{', ...' if len(names) > 5 else ''}) and no lock file; pin them "
                    "(pip freeze, pip-compile, uv lock)",
                    how="static",
                    file=rel,
                    line=loose[0][0],
                    detail={"unpinned": list[JsonValue](names[:20])},
                )
            )
        if "pyproject.toml" in top:
            text = self._read(project, "pyproject.toml")
            try:
                data = tomllib.loads(text) if text is not None else {}
            except tomllib.TOMLDecodeError:
                data = {}
            ranges = _pyproject_ranges(data)
            has_deps = bool(ranges) or "dependencies" in str(data.get("project", {}))
            declared = declared or has_deps
            if ranges and not any_pinned_file:
                out.append(
                    finding(
                        "repro.unpinned-deps",
                        f"pyproject.toml declares {len(ranges)} dependency range"
                        f"{'s' if len(ranges) != 1 else ''} and there is no lock file "
                        "(uv.lock, poetry.lock, pdm.lock): the installed versions are not recorded",
                        how="static",
                        file="pyproject.toml",
                        detail={"ranges": list[JsonValue](ranges[:20])},
                    )
                )
        for env in ("environment.yml", "environment.yaml"):
            if env in top:
                declared = True
                text = self._read(project, env) or ""
                loose_conda = _conda_unpinned(text)
                if loose_conda and not any_pinned_file:
                    out.append(
                        finding(
                            "repro.unpinned-deps",
                            f"{env}: {len(loose_conda)} conda package(s) without a version "
                            f"({', '.join(loose_conda[:5])}) and no conda-lock file",
                            how="static",
                            file=env,
                            detail={"unpinned": list[JsonValue](loose_conda[:20])},
                        )
                    )
        if "Pipfile" in top:
            declared = True
            out.append(
                finding(
                    "repro.unpinned-deps",
                    "Pipfile without Pipfile.lock",
                    how="static",
                    file="Pipfile",
                )
            )
        if not declared and top & {"setup.py", "setup.cfg"}:
            declared = True
            if not any_pinned_file:
                rel = "setup.py" if "setup.py" in top else "setup.cfg"
                out.append(
                    finding(
                        "repro.unpinned-deps",
                        f"dependencies are declared only in {rel}, with no lock file or pinned "
                        "requirements",
                        how="static",
                        file=rel,
                    )
                )
        if not declared and any(p.endswith(".py") for p in paths):
            out.append(
                finding(
                    "repro.unpinned-deps",
                    "no dependency file (requirements.txt, pyproject.toml, environment.yml): the "
                    "packages and versions the code needs are not recorded",
                    how="static",
                )
            )
        return out


__all__ = ["LOCK_NAMES", "UnpinnedDeps", "unpinned_requirements"]
