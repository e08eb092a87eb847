"""The nine-step runbook of seed 001 section 7 as a persisted state machine (later issue).

It consumes tool results and never starts processes itself.
"""

__all__: list[str] = []
