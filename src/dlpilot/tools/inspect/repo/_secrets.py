"""repo.secrets: credentials in files git tracks. The secret itself is never echoed: evidence holds
its kind, place and a mask such as ``sk-a…(51 chars)``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import ClassVar

from dlpilot.findings import Finding, finding
from dlpilot.tools.inspect._base import Project, SourceFile
from dlpilot.tools.inspect.repo._common import (
    RepoRule,
    has_placeholder_words,
    looks_like_placeholder,
)
from dlpilot.tools.inspect.repo._git import GitError, open_git

SECRET_SCAN_MAX_BYTES = 1024 * 1024
"""Non-Python files above 1 MiB are not scanned: configs and env files are far smaller, and large
text files are data."""

SECRET_SCAN_MAX_FILES = 5000
"""At most this many non-Python files are scanned, so a data-heavy repository stays fast."""

TEXT_SUFFIXES = frozenset(
    {
        ".env",
        ".cfg",
        ".ini",
        ".conf",
        ".toml",
        ".yaml",
        ".yml",
        ".json",
        ".txt",
        ".sh",
        ".bash",
        ".zsh",
        ".md",
        ".rst",
        ".ipynb",
        ".properties",
        ".js",
        ".ts",
        ".r",
        ".sql",
        ".tf",
        ".pem",
        ".key",
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".dockerfile",
    }
)
TEXT_NAMES = frozenset(
    {
        "Dockerfile",
        "Makefile",
        "Procfile",
        ".netrc",
        ".npmrc",
        ".pypirc",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
    }
)

_EXAMPLE_MARKERS = ("example", "sample", "template", "dist", "tmpl")


@dataclass(frozen=True)
class _Kind:
    name: str
    pattern: re.Pattern[str]
    shown: int  # characters of the match shown in the mask


# Each kind runs only on texts holding one of its needles (a plain substring test is far cheaper
# than a regex pass); patterns start with their literal prefix and the character before a match
# must not be part of a word (checked in code: a leading ``\b`` defeats the regex prefix scan).
_PROVIDER_KINDS = (
    (
        ("-----BEGIN",),
        _Kind(
            "private key",
            re.compile(
                r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----"
            ),
            0,
        ),
    ),
    (
        ("AKIA", "ASIA"),
        _Kind("AWS access key id", re.compile(r"A(?:KIA|SIA)[0-9A-Z]{16}(?![0-9A-Z])"), 4),
    ),
    (("sk-ant-",), _Kind("Anthropic API key", re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"), 4)),
    (("sk-",), _Kind("OpenAI API key", re.compile(r"sk-(?!ant-)[A-Za-z0-9_-]{20,}"), 4)),
    (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _Kind(
            "GitHub token",
            re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
            4,
        ),
    ),
    (("hf_",), _Kind("Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"), 4)),
    (("xox",), _Kind("Slack token", re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), 4)),
    (
        ("hooks.slack.com",),
        _Kind(
            "Slack webhook",
            re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
            0,
        ),
    ),
)

# Names that hold credentials. Candidates are found with substring searches of the lower-cased
# text for these needles; the assignment after the name is then matched in place.
_KEYWORD = re.compile(
    r"password|passwd|secret|api_?key|apikey|access_?key|auth_?token|"
    r"access_?token|private_?key|client_?secret|bearer"
)
_NEEDLES = ("pass", "secret", "key", "token", "bearer")
# the rest of the name, then = / : / := and a quoted value (code, JSON, YAML)
_QUOTED_VALUE = re.compile(
    r"""[A-Za-z0-9_.-]{0,40}["']?[ \t]*(?::=|=|:)[ \t]*(?P<q>["'])(?P<val>[^"'\s]{6,200})(?P=q)"""
)
# the rest of the name, then = / : and an unquoted value to the end of the line (.env, shell, ini)
_BARE_VALUE = re.compile(
    r"""[A-Za-z0-9_.-]{0,40}[ \t]*[=:][ \t]*(?P<val>[^"'\s#]{6,200})[ \t]*$""", re.MULTILINE
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NOT_A_SECRET_NAME = re.compile(
    r"(?i)(?:name|field|file|path|env|var|prompt|label|len|length|"
    r"type|_id|url|dir|column|col|regex|pattern|header|method|s)$"
)


def mask(secret: str, shown: int) -> str:
    """``sk-a…(51 chars)``: at most ``shown`` leading characters, then the length."""
    return f"{secret[:shown]}…({len(secret)} chars)"


def _real_token(body: str) -> bool:
    """Provider tokens are random: mixed letters and digits, many distinct characters."""
    return (
        any(c.isdigit() for c in body)
        and any(c.isalpha() for c in body)
        and len(set(body)) >= 8
        and not has_placeholder_words(body)
    )


@dataclass(frozen=True)
class Hit:
    kind: str
    line: int
    masked: str
    name: str = ""


def _name_at(text: str, pos: int) -> tuple[str, int]:
    """The whole identifier-like name around ``pos``, and where it starts."""
    start = pos
    while start > 0 and text[start - 1] in _NAME_CHARS and pos - start < 80:
        start -= 1
    end = pos
    while end < len(text) and text[end] in _NAME_CHARS and end - pos < 80:
        end += 1
    return text[start:end], start


def _keyword_positions(text: str) -> list[int]:
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII characters change length when lower-cased
        return [m.start() for m in re.finditer(_KEYWORD.pattern, text, re.IGNORECASE)]
    out: set[int] = set()
    for needle in _NEEDLES:
        i = low.find(needle)
        while i >= 0:
            out.add(i)
            i = low.find(needle, i + 1)
    return sorted(out)


def scan_text(text: str, *, example_file: bool = False, code: bool = False) -> list[Hit]:
    """Credentials in ``text``. ``example_file`` (``.env.example``) checks only provider-shaped
    tokens; ``code`` (Python) accepts only quoted values, so ``os.environ[...]`` never counts."""
    hits: list[Hit] = []
    for needles, kind in _PROVIDER_KINDS:
        if not any(n in text for n in needles):
            continue
        for m in kind.pattern.finditer(text):
            if m.start() > 0 and text[m.start() - 1] in _WORD_CHARS:
                continue
            tok = m.group(0)
            if kind.shown and not _real_token(tok.split("-", 1)[-1].split("_", 1)[-1]):
                continue
            hits.append(
                Hit(
                    kind.name,
                    text.count("\n", 0, m.start()) + 1,
                    mask(tok, kind.shown) if kind.shown else kind.name,
                )
            )
    if example_file:
        return hits
    seen_lines = {h.line for h in hits}
    value_patterns = (_QUOTED_VALUE,) if code else (_QUOTED_VALUE, _BARE_VALUE)
    done_names: set[int] = set()
    for pos in _keyword_positions(text):
        name, start = _name_at(text, pos)
        if start in done_names:
            continue
        done_names.add(start)
        if not _KEYWORD.search(name.lower()) or _NOT_A_SECRET_NAME.search(name):
            continue
        name_end = start + len(name)
        for pattern in value_patterns:
            vm = pattern.match(text, name_end)
            if vm is None:
                continue
            if pattern is _BARE_VALUE:
                bol = text.rfind("\n", 0, start) + 1
                if text[bol:start].strip() not in ("", "export"):
                    continue
            val = vm.group("val")
            if looks_like_placeholder(val) or (code and not re.search(r"[A-Za-z]", val)):
                continue
            line = text.count("\n", 0, vm.start("val")) + 1
            if line not in seen_lines:
                seen_lines.add(line)
                hits.append(Hit(f"hard-coded {name}", line, mask(val, 0), name))
            break
    return hits


def _is_example(rel: str) -> bool:
    name = PurePosixPath(rel).name.lower()
    return any(m in name for m in _EXAMPLE_MARKERS)


def _scannable(rel: str) -> bool:
    p = PurePosixPath(rel)
    return (
        p.suffix.lower() in TEXT_SUFFIXES
        or p.name in TEXT_NAMES
        or p.name.startswith(".env")
        or p.name.endswith((".env", ".secrets"))
    )


class Secrets(RepoRule):
    """Credentials in tracked files (all files when the directory is not a git repository)."""

    ids: ClassVar[tuple[str, ...]] = ("repo.secrets",)

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[tuple[str, Hit]] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        self.hits.extend(
            (f.rel, h) for h in scan_text(f.text, code=True, example_file=_is_example(f.rel))
        )
        return ()

    def finish(self, project: Project) -> Iterable[Finding]:
        hits = self.hits
        candidates = project.all_paths
        if project.is_git:
            tracked = set(project.tracked)
            untracked_py = sorted({rel for rel, _ in hits if rel not in tracked})
            facts = open_git(project.root)
            try:
                ignored = facts.ignored(untracked_py) if facts is not None else set()
            except GitError:
                ignored = set()
            # an ignored local file (secrets.py kept out of git) is the right practice
            hits = [(rel, h) for rel, h in hits if rel not in ignored]
            candidates = [p for p in project.all_paths if p in tracked]
        scanned = 0
        for rel in candidates:
            if rel.endswith(".py") or not _scannable(rel):
                continue
            if scanned >= SECRET_SCAN_MAX_FILES:
                self.cannot_check(
                    "repo.secrets",
                    f"only the first {SECRET_SCAN_MAX_FILES} text files were scanned",
                )
                break
            try:
                path = project.root / rel
                if path.stat().st_size > SECRET_SCAN_MAX_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            scanned += 1
            if b"\0" in data[:8192]:
                continue
            text = data.decode("utf-8", "replace")
            hits.extend((rel, h) for h in scan_text(text, example_file=_is_example(rel)))
        return [
            finding(
                "repo.secrets",
                f"{h.kind} in {rel}:{h.line} ({h.masked}): remove it from the repository, rotate "
                "it, and read it from an environment variable",
                how="static",
                file=rel,
                line=h.line,
                detail={"kind": h.kind, "masked": h.masked},
            )
            for rel, h in hits
        ]


__all__ = ["SECRET_SCAN_MAX_BYTES", "SECRET_SCAN_MAX_FILES", "Secrets", "mask", "scan_text"]
