"""Runs user code in child processes with limits.

The process runner (:func:`run_child`; its spec and result in ``_spec``) knows only the
standard library and :mod:`dlpilot.errors`.
No child outlives its owner: see :mod:`dlpilot.sandbox._tree` (every descendant is found) and
:mod:`dlpilot.sandbox._owner` (shutdown, owned temporary directories, leftovers of dead owners);
the in-child probe, which imports torch, lives in ``dlpilot.sandbox.probe`` and is not
imported here.
"""

from ._owner import (
    clean_dead_owners,
    install_shutdown_handler,
    owned_tempdir,
    release_tempdir,
    stop_children,
)
from ._process import run_child
from ._spec import (
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
)

__all__ = [
    "DEFAULT_ENV_ALLOW",
    "DEFAULT_TIMEOUT_S",
    "KILL_GRACE_S",
    "ChildResult",
    "ChildSpec",
    "build_env",
    "clean_dead_owners",
    "default_memory_limit_bytes",
    "install_shutdown_handler",
    "owned_tempdir",
    "python_executable",
    "python_module_argv",
    "raise_for_cause",
    "release_tempdir",
    "run_child",
    "stop_children",
]
