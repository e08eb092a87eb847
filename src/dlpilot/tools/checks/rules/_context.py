"""What every runtime rule shares: the :class:`Context`, the :class:`RuntimeCheck` contract, the
evidence helper and small statistics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import JsonValue

from dlpilot.findings import Finding, finding
from dlpilot.tools.checks._evidence import ProbeRun, get

if TYPE_CHECKING:
    from dlpilot.sandbox.probe._schema import BucketSummary, Role


@dataclass
class Context:
    """What a rule needs besides the evidence: the project root, to make paths relative."""

    root: Path

    def rel(self, path: str | None) -> str | None:
        if not path:
            return None
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            return p.as_posix()


def evidence(
    ctx: Context,
    run: ProbeRun,
    id_: str,
    message: str,
    *,
    step: int | None = None,
    where: str | None = None,
    detail: dict[str, JsonValue] | None = None,
) -> Finding:
    """A runtime finding; ``where`` names an entry of the probe's user-code locations."""
    file = line = None
    loc = get(run.summary, "where", where) if where else None
    if isinstance(loc, list) and len(loc) == 2:
        file, line = ctx.rel(str(loc[0])), int(loc[1]) if isinstance(loc[1], int) else None
    return finding(
        id_,
        message,
        how="runtime",
        file=file,
        line=line if line and line >= 1 else None,
        step=step if step is not None and step >= 0 else None,
        detail=detail or {},
    )


class RuntimeCheck(ABC):
    """A runtime rule. ``ids`` lists every finding id it may report; ``judge`` must not raise on
    missing evidence (a crashed or partial run): it reports nothing it cannot show."""

    ids: ClassVar[tuple[str, ...]]

    @abstractmethod
    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]: ...


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _between(row: list[int], training: list[list[int]], began: dict[int, int]) -> bool:
    """Whether training went on after this loader's first backward: a training-mode backward on
    another loader, or a training loader's epoch begun, came after it (rows without the order
    columns, from older evidence: assumed so)."""
    if len(row) < 7:
        return True
    return any(len(t) < 7 or t[6] > row[5] or began.get(t[0], -1) > row[5] for t in training)


def eval_pass_loaders(summary: object, steps: int) -> tuple[list[list[int]], int]:
    """Loaders back-propagated only with the model in eval mode while another loader is
    back-propagated with it in training mode (a validation pass that runs backward): those
    stepped during (a shared epoch function that steps in its validation pass), and the count
    of all such loaders' backwards through eval-mode dropout / BN (a validation pass, not
    training left in eval mode).

    A validation pass sits between training epochs: training goes on after it. A loader
    back-propagated in eval mode only after all training (a second stage that fine-tunes with
    the model in eval mode, to keep batch-norm statistics) is not one; its backwards stay
    training steps in eval mode."""
    rows = [r for r in get(summary, "mode", "loaders", default=[]) or [] if len(r) >= 4]
    began = {
        int(ld["lid"]): int(ld.get("iter_at", -1))
        for ld in get(summary, "loaders", default=[]) or []
        if isinstance(ld, dict) and "lid" in ld
    }
    training = [r for r in rows if r[1] > r[2]]
    evals = [r for r in rows if r[1] > 0 and r[2] == r[1] and _between(r, training, began)]
    if not evals or not training:
        return [], 0
    flagged = sum(int(r[3]) for r in evals)
    # a saliency / gradient pass in validation back-propagates without stepping: not a step
    stepped = [r for r in evals if len(r) < 5 or r[4] > 0] if steps else []
    return stepped, flagged


def trained_buckets(run: ProbeRun, role: Role | None = None) -> list[BucketSummary]:
    """The summary's buckets (forwards of one model in one context) of a model that was trained,
    of one ``role`` when given. The role (training or validation) is the probe's decision,
    recorded once per bucket (``dlpilot.sandbox.probe._schema``); no rule re-derives it."""
    buckets: list[BucketSummary] = get(run.summary, "buckets", default=[])
    return [b for b in buckets if b.get("trained") and (role is None or b.get("role") == role)]
