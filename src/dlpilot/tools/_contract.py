"""The one contract every rule keeps, in all three engines: a rule declares the finding ids it may
report, and the engine that runs it reads the declaration and refuses any other id.

A static rule (``tools.inspect``) and a runtime rule (``tools.checks.rules``) are classes with an
``ids`` class attribute; a curve rule (``tools.curves``) is a function declared with
:func:`reports`. The engines pass each rule's findings through :func:`only_declared`, so a rule that
reports an id it did not declare fails every test that reaches it, and the catalogue's "How"
column (S / R / C) can be checked against the declarations alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from dlpilot.findings import CATALOGUE, Finding

F = TypeVar("F", bound=Callable[..., object])


class RuleContractError(RuntimeError):
    """A rule reported an id it does not declare, or declared none: a programming error."""


def _checked(ids: Iterable[str], owner: str) -> tuple[str, ...]:
    out = tuple(ids)
    if not out:
        raise RuleContractError(f"{owner} declares no finding id")
    unknown = [i for i in out if i not in CATALOGUE]
    if unknown:
        raise RuleContractError(f"{owner} declares ids missing from the catalogue: {unknown}")
    return out


def reports(*ids: str) -> Callable[[F], F]:
    """Declare the ids a rule function may report (the curve engine's rules are functions)."""

    def mark(fn: F) -> F:
        fn.ids = _checked(ids, getattr(fn, "__name__", repr(fn)))  # type: ignore[attr-defined]
        return fn

    return mark


def rule_name(rule: object) -> str:
    """A rule's name for messages: its function or class name."""
    named = rule if callable(rule) and hasattr(rule, "__name__") else type(rule)
    return str(getattr(named, "__name__", repr(rule)))


def declared_ids(rule: object) -> tuple[str, ...]:
    """The ids ``rule`` (a rule class, instance or declared function) may report."""
    ids = getattr(rule, "ids", None)
    if not isinstance(ids, tuple) or not all(isinstance(i, str) for i in ids):
        raise RuleContractError(f"{rule_name(rule)} declares no ids (an 'ids' tuple of strings)")
    return _checked(ids, rule_name(rule))


def only_declared(
    rule: object, findings: Iterable[Finding], ids: tuple[str, ...] | None = None
) -> Iterator[Finding]:
    """``findings`` of ``rule``, raising :class:`RuleContractError` at the first undeclared id.
    ``ids``: the rule's :func:`declared_ids`, when the engine read them once already."""
    ids = declared_ids(rule) if ids is None else ids
    for f in findings:
        if f.id not in ids:
            raise RuleContractError(
                f"{rule_name(rule)} reported {f.id!r}, which it does not declare (it declares "
                f"{', '.join(ids)})"
            )
        yield f


__all__ = ["RuleContractError", "declared_ids", "only_declared", "reports", "rule_name"]
