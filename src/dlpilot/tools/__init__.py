"""The capabilities of dlpilot as plain Python with typed results; nothing here imports MCP.

Subpackages: ``inspect`` (static repository inspection), ``checks`` (runtime sanity and overfit
checks through the sandbox), ``curves`` (metric readers, diagnosis, plots), ``trials`` (studies).
Import what you need from the subpackage; this package does not import them eagerly, so that a
process pays only for what it uses.
"""

__all__: list[str] = []
