"""Runs user code in child processes with limits.

The process runner (:func:`run_child`) knows only the standard library and :mod:`dlpilot.errors`;
the in-child probe, which imports torch, lives in ``dlpilot.sandbox.probe`` and is not
imported here.
"""

from ._process import (
    DEFAULT_ENV_ALLOW,
    DEFAULT_TIMEOUT_S,
    KILL_GRACE_S,
    ChildResult,
    ChildSpec,
    build_env,
    default_memory_limit_bytes,
    python_executable,
    python_module_argv,
    raise_for_cause,
    run_child,
)

__all__ = [
    "DEFAULT_ENV_ALLOW",
    "DEFAULT_TIMEOUT_S",
    "KILL_GRACE_S",
    "ChildResult",
    "ChildSpec",
    "build_env",
    "default_memory_limit_bytes",
    "python_executable",
    "python_module_argv",
    "raise_for_cause",
    "run_child",
]
