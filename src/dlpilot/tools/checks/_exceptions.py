"""A user exception whose message names a catalogued cause becomes that finding."""

from __future__ import annotations

import re

from dlpilot.findings import Finding, finding
from dlpilot.tools._contract import reports

from ._models import UserException

_KNOWN: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"Target -?\d+ is out of bounds"),
        "loss.label-out-of-range",
        "a class label is outside [0, C) for the model's C outputs",
    ),
    (
        re.compile(r"device-side assert triggered|t >= 0 && t < n_classes|n_classes"),
        "loss.label-out-of-range",
        "a CUDA device-side assert, which a class label outside [0, C) usually triggers",
    ),
    (
        re.compile(
            r"expected (target|scalar) (dtype|type) (to be )?Long|expected scalar type Long"
        ),
        "loss.label-dtype",
        "class-index targets must be integer (torch.long)",
    ),
    (
        re.compile(r"Found dtype \w+ but expected \w+"),
        "loss.label-dtype",
        "the loss got targets of the wrong dtype (floats for BCE / MSE, longs for class indices)",
    ),
    (
        re.compile(r"result type \w+ can't be cast to the desired output type \w+"),
        "loss.label-dtype",
        "the loss got integer targets where it needs floating-point ones",
    ),
    (
        re.compile(r"Target size \(.*\) must be the same as input size"),
        "loss.shape-broadcast",
        "prediction and target shapes differ",
    ),
    (
        re.compile(r"element 0 of tensors does not require grad"),
        "grad.no-flow",
        "the loss is not connected to any trainable parameter (detached or computed under no_grad)",
    ),
    (
        re.compile(r"backward through the graph a second time"),
        "loop.backward-twice",
        "a graph was back-propagated twice (backward() twice on one loss, or a tensor such as an "
        "RNN hidden state carried across steps without .detach())",
    ),
)


@reports(*dict.fromkeys(id_ for _, id_, _ in _KNOWN))
def explain(exc: UserException, *, file: str | None, line: int | None) -> Finding | None:
    """The finding for a catalogued exception message, or None."""
    for pattern, id_, why in _KNOWN:
        if pattern.search(exc.message):
            return finding(
                id_,
                f"The script stopped with {exc.type}: {exc.message.splitlines()[0][:300]} ({why}).",
                how="runtime",
                file=file,
                line=line,
                step=exc.step,
                detail={"exception": exc.type, "message": exc.message[:1000]},
            )
    return None


__all__ = ["explain"]
