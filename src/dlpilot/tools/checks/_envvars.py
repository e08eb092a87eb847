"""The variables a checked command gets beyond the sandbox's allow-list (``--env NAME=VALUE``,
``--pass-env NAME``, a leading ``env NAME=VALUE``), and naming the ones it failed on.

The sandbox passes only an allow-list of dlpilot's environment (no API keys, no cloud
credentials), so a script that reads ``os.environ["TRAIN_LR"]`` set in the user's shell fails
with a bare ``KeyError``. When it does, :func:`dropped_variables` names the variables it read that
dlpilot's environment has but the child did not get, for a hint to pass them. A read with a
default (``os.environ.get("X")``, ``os.getenv("X")``) does not fail where it is made, so when the
script fails anyhow :func:`defaulted_reads` also names the dropped ones its files read that way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from dlpilot.errors import InvalidArgument
from dlpilot.sandbox import DEFAULT_ENV_ALLOW

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_READS = re.compile(
    r"""(?:environ\s*\[\s*|environ\.get\(\s*|getenv\(\s*|environ\.pop\(\s*)['"]([A-Za-z_][A-Za-z0-9_]*)['"]"""
)
"""``os.environ["X"]``, ``os.environ.get("X")``, ``os.getenv("X")`` in a traceback's code lines."""

_DEFAULTED = re.compile(r"""(?:environ\.get\(\s*|getenv\(\s*)['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
"""``os.environ.get("X")`` and ``os.getenv("X")`` in a source file: reads that give the default."""

MAX_SOURCE_BYTES = 1_000_000
"""A file the script ran is searched for such reads only up to this size: a generated module is
not where a script reads its settings, and reading it would only cost time."""


def _check_name(name: object, option: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(f"{option}: not a variable name: {name!r}"[:300])
    return name


def parse_env_options(values: Iterable[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` (the CLI's ``--env``) as a mapping; a bad item is named."""
    env: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"--env {item!r}: expected NAME=VALUE"[:300])
        env[_check_name(name, "--env")] = value
    return env


def child_env(
    env: Mapping[str, str] | None, pass_env: Sequence[str] | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The variables to set and the allow-list to use: ``env`` as given, ``pass_env`` names added
    to the sandbox's default allow-list. A passed name that is not set here is an error, since
    passing it would change nothing."""
    given: dict[str, str] = {}
    for name, value in (env or {}).items():
        _check_name(name, "env")
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidArgument(f"env {name}: the value must be a string, got {value!r}"[:300])
        given[name] = value
    names = [_check_name(n, "pass_env") for n in (pass_env or [])]
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise InvalidArgument(
            f"pass_env: {', '.join(missing)} not set in dlpilot's environment; "
            "set it with env NAME=VALUE instead"
        )
    return given, (*DEFAULT_ENV_ALLOW, *names)


def dropped_variables(
    exc_type: str | None,
    message: str,
    traceback: str,
    given: Mapping[str, str],
    allow: Sequence[str],
) -> list[str]:
    """Variables the failed script read that dlpilot's environment has but the child lacked."""
    if not exc_type:
        return []
    candidates: list[str] = []
    if exc_type == "KeyError":
        key = message.strip().strip("'\"")
        if _NAME.match(key):
            candidates.append(key)
    candidates += _READS.findall(traceback)
    return _dropped(candidates, given, allow)


def defaulted_reads(
    root: Path, files: Iterable[str], given: Mapping[str, str], allow: Sequence[str]
) -> list[str]:
    """Variables that the files the script ran (paths relative to ``root``; others are not read)
    read with ``os.environ.get`` / ``os.getenv``, which dlpilot's environment has but the child
    lacked: the script got None or its default instead of the user's value."""
    candidates: list[str] = []
    for rel in files:
        path = root / rel
        if Path(rel).is_absolute() or not path.is_file():
            continue
        try:
            if path.stat().st_size > MAX_SOURCE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        candidates += _DEFAULTED.findall(text)
    return _dropped(candidates, given, allow)


def _dropped(
    candidates: Iterable[str], given: Mapping[str, str], allow: Sequence[str]
) -> list[str]:
    out: list[str] = []
    for name in candidates:
        passed = (
            name in given
            or name in allow
            or any(a.endswith("*") and name.startswith(a[:-1]) for a in allow)
        )
        if name in os.environ and not passed and name not in out:
            out.append(name)
    return out


def dropped_hint(names: Sequence[str]) -> str:
    shown = ", ".join(names)
    flags = " ".join(f"--pass-env {n}" for n in names)
    return (
        f"it read {shown}, set in dlpilot's environment but not passed to the sandbox (only an "
        f"allow-list is): rerun with {flags}, or set a value with --env NAME=VALUE"
    )


__all__ = [
    "MAX_SOURCE_BYTES",
    "child_env",
    "defaulted_reads",
    "dropped_hint",
    "dropped_variables",
    "parse_env_options",
]
