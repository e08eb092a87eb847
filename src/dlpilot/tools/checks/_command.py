"""The one parser of a training command (``[python] script.py args``, ``[python] -m module
args``, or a launcher: ``torchrun``, ``accelerate launch``, ``bash run.sh``, ``make``, each maybe
after ``env NAME=VALUE ...``), shared by the CLI, the MCP server and the tools, so that all of them
agree on what runs.

A plain Python command runs inside the probe's own process; a launcher runs as typed, with the
probe put into every Python process it starts (see :mod:`dlpilot.tools.checks._launch`).
``env NAME=VALUE`` in front of either sets those variables for the child.

What may run:

* the interpreter is dlpilot's own Python (``sys.executable``), the one named by
  ``$DLPILOT_PYTHON``, or the project's own virtual environment (``.venv/bin/python`` or
  ``venv/bin/python`` under the working directory); a bare ``python``, ``python3``,
  ``python3.12`` or ``python.exe`` means the default of :func:`dlpilot.sandbox.python_executable`.
  Any other program whose name starts with "python" is refused, since its name says nothing of
  what it is;
* a script must be a file, and with a ``guard`` (the server's roots) it must resolve inside them;
* a ``-m`` module must be a file of the project: it is looked up in the working directory (the
  first entry of ``sys.path`` under ``python -m``), without importing anything, and with a
  ``guard`` that file must resolve inside the roots. A module found nowhere there (the standard
  library's ``base64``, ``timeit``) is refused when a guard is given.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dlpilot.errors import InvalidArgument
from dlpilot.sandbox import python_executable
from dlpilot.tools.control import PathGuard

_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)*)?(\.exe)?$", re.IGNORECASE)
_PROJECT_VENVS = (".venv", "venv")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHELLS = ("bash", "sh", "zsh", "dash")
_MAKES = ("make", "gmake")
_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_TORCHRUN_MODULES = ("torch.distributed.run", "torch.distributed.launch")
MAX_ARG_CHARS = 128 * 1024
"""Longest single argument: Linux's MAX_ARG_STRLEN; the kernel refuses a longer one anyway."""


@dataclass(frozen=True)
class Command:
    """A parsed training command: the interpreter and the part after it (``script.py args`` or
    ``-m module args``), with the file that part runs."""

    python: str
    rest: list[str]
    file: Path | None
    """The script, or the module's file; None for a module outside the working directory (only
    without a guard). For a launcher: the Python script it runs (or the shell script, the
    Makefile) when one is named."""
    launcher: str | None = None
    """``torchrun``, ``accelerate``, ``bash`` or ``make``: ``rest`` is then the whole command to
    run as typed (its program first); None for a plain Python command."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables set by a leading ``env NAME=VALUE ...``."""


def _short(value: str, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(value)} characters)"


def _check_argv(argv: object) -> list[str]:
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise InvalidArgument(
            f"the command must be a non-empty list of strings, got {argv!r}"[:300]
        )
    for i, arg in enumerate(argv):
        if "\x00" in arg:
            raise InvalidArgument(f"argument {i} of the command, {_short(arg)}, holds a NUL byte")
        if len(arg) > MAX_ARG_CHARS:
            raise InvalidArgument(
                f"argument {i} of the command, {_short(arg)}, is longer than {MAX_ARG_CHARS} "
                "characters"
            )
    return list(argv)


def is_python_name(program: str) -> bool:
    """Whether a program's file name reads as Python (``python3.12``, ``python.exe``)."""
    return bool(_PYTHON_NAME.match(Path(program.replace("\\", "/")).name))


def _interpreter(program: str, cwd: Path) -> str:
    """The interpreter to run for ``program`` (an argv[0] that reads as Python)."""
    if "/" not in program and "\\" not in program:
        return python_executable()  # a bare name: the default interpreter
    path = Path(program) if os.path.isabs(program) else cwd / program
    absolute = Path(os.path.normpath(path))
    allowed = {sys.executable, python_executable()}
    for known in allowed:
        if absolute == Path(os.path.normpath(known)):
            return str(absolute)
        try:
            if absolute.resolve() == Path(known).resolve():
                return str(absolute)
        except (OSError, RuntimeError):
            continue
    for venv in _PROJECT_VENVS:
        for scripts in ("bin", "Scripts"):
            if absolute.parent == cwd / venv / scripts and absolute.is_file():
                return str(absolute)
    raise InvalidArgument(
        f"interpreter {_short(program)} is not allowed: use 'python' (dlpilot's own, "
        f"{sys.executable}), the project's .venv/bin/python, or name one in $DLPILOT_PYTHON"
    )


def module_file(module: str, cwd: Path) -> Path | None:
    """The file ``python -m module`` runs when it is found in ``cwd`` (``a/b.py``, or
    ``a/b/__main__.py`` for a package); None when it is not there. Nothing is imported."""
    parts = module.split(".")
    if not all(p.isidentifier() for p in parts):
        raise InvalidArgument(f"'-m' needs a dotted module name, got {_short(module)}")
    base = cwd.joinpath(*parts[:-1])
    if not base.is_dir():
        return None
    for candidate in (base / f"{parts[-1]}.py", base / parts[-1] / "__main__.py"):
        if candidate.is_file():
            return candidate
    return None


def _leading_env(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """``env NAME=VALUE ... command`` -> the variables and the command; other argv unchanged."""
    if Path(argv[0]).name != "env":
        return {}, argv
    env: dict[str, str] = {}
    rest = argv[1:]
    while rest and "=" in rest[0]:
        name, _, value = rest[0].partition("=")
        if not _ENV_NAME.match(name):
            raise InvalidArgument(f"'env' sets a bad variable name: {_short(rest[0])}")
        env[name] = value
        rest = rest[1:]
    if rest and rest[0].startswith("-"):
        raise InvalidArgument(
            f"'env' options are not supported ({_short(rest[0])}): use env NAME=VALUE command"
        )
    return env, rest


def _first_py(args: list[str], cwd: Path) -> Path | None:
    """The first argument that names an existing ``.py`` file (a launcher's script)."""
    for arg in args:
        value = arg.partition("=")[2] if arg.startswith("-") and "=" in arg else arg
        if value.endswith(".py"):
            path = Path(value) if Path(value).is_absolute() else cwd / value
            if path.is_file():
                return path
    return None


def _guarded(file: Path | None, guard: PathGuard | None, what: str, argv: list[str]) -> Path | None:
    if guard is None:
        return file
    if file is None:
        raise InvalidArgument(f"{what} names no file of the project to run: {argv!r}"[:300])
    return guard(file)


def _launcher(rest: list[str], cwd: Path, guard: PathGuard | None) -> Command | None:
    """The launcher ``rest`` starts, or None for a plain Python command."""
    program = Path(rest[0]).name
    python = python_executable()
    if is_python_name(program) and len(rest) >= 3 and rest[1] == "-m":
        if rest[2] in _TORCHRUN_MODULES:
            python = _interpreter(rest[0], cwd)
            file = _guarded(_first_py(rest[3:], cwd), guard, rest[2], rest)
            return Command(python, [python, *rest[1:]], file, launcher="torchrun")
        return None
    if program == "torchrun":
        file = _guarded(_first_py(rest[1:], cwd), guard, "torchrun", rest)
        return Command(python, [python, "-m", _TORCHRUN_MODULES[0], *rest[1:]], file, "torchrun")
    if program == "accelerate":
        if len(rest) < 2 or rest[1] != "launch":
            raise InvalidArgument(f"only 'accelerate launch' runs training, got {rest!r}"[:300])
        file = _guarded(_first_py(rest[2:], cwd), guard, "accelerate launch", rest)
        return Command(python, list(rest), file, launcher="accelerate")
    if program in _SHELLS:
        if len(rest) < 2 or rest[1].startswith("-"):
            raise InvalidArgument(
                f"{program} must be followed by a script file (bash run.sh), got {rest!r}"[:300]
            )
        script = Path(rest[1]) if Path(rest[1]).is_absolute() else cwd / rest[1]
        if guard is not None:
            script = guard(script)
        if not script.is_file():
            raise InvalidArgument(f"shell script not found: {_short(rest[1])} (looked in {cwd})")
        return Command(python, list(rest), script, launcher="bash")
    if program in _MAKES:
        found = [cwd / n for n in _MAKEFILES if (cwd / n).is_file()]
        if not found:
            raise InvalidArgument(f"{program}: no Makefile in {cwd}")
        makefile = guard(found[0]) if guard is not None else found[0]
        return Command(python, list(rest), makefile, launcher="make")
    return None


def parse_command(argv: list[str], cwd: Path, *, guard: PathGuard | None = None) -> Command:
    """Parse ``argv`` run in ``cwd``; with ``guard``, every file it runs must pass it.

    Raises :class:`~dlpilot.errors.InvalidArgument` naming the bad part (or
    :class:`~dlpilot.errors.PathNotAllowed` from the guard)."""
    argv = _check_argv(argv)
    env, rest = _leading_env(argv)
    if not rest:
        raise InvalidArgument(f"'env' is followed by no command: {argv!r}"[:300])
    launched = _launcher(rest, cwd, guard)
    if launched is not None:
        return Command(
            python=launched.python,
            rest=launched.rest,
            file=launched.file,
            launcher=launched.launcher,
            env=env,
        )
    python = python_executable()
    if is_python_name(rest[0]):
        python = _interpreter(rest[0], cwd)
        rest = rest[1:]
    if not rest:
        raise InvalidArgument(f"the command names no script to run: {argv!r}"[:300])
    if rest[0] == "-m":
        if len(rest) < 2 or not rest[1] or rest[1].startswith("-"):
            raise InvalidArgument(f"'-m' must be followed by a module name, got {argv!r}"[:300])
        file = module_file(rest[1], cwd)
        if guard is not None:
            if file is None:
                raise InvalidArgument(
                    f"module {_short(rest[1])} is not a file of the project in {cwd}: '-m' runs "
                    "only the project's own modules"
                )
            guard(file)
        return Command(python=python, rest=rest, file=file, env=env)
    if rest[0].startswith("-"):
        raise InvalidArgument(
            f"the command must be [python] script.py args or [python] -m module args, got {argv!r}"[
                :300
            ]
        )
    script = Path(rest[0])
    full = script if script.is_absolute() else cwd / script
    if guard is not None:
        full = guard(full)
    try:
        found = full.is_file()
    except OSError:
        found = False
    if not found:
        raise InvalidArgument(f"script not found: {_short(rest[0])} (looked in {cwd})")
    return Command(python=python, rest=rest, file=full, env=env)


__all__ = ["MAX_ARG_CHARS", "Command", "is_python_name", "module_file", "parse_command"]
