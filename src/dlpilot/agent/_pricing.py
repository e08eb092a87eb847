"""An estimate of what a drive cost, from list prices per model.

The prices are Anthropic's published list prices in US dollars per million tokens, as read from
platform.claude.com's model pages in late 2026. They are an estimate only: prices change, and
discounts (batch, contracts) and regional surcharges are not applied. A model missing from
:data:`PRICES` gets no estimate (``None``) rather than a guess.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from dlpilot.agent._usage import Usage


class Price(NamedTuple):
    """US dollars per million tokens."""

    input: float
    output: float


PRICES: dict[str, Price] = {
    "claude-sonnet-5-5": Price(2.0, 10.0),
    "claude-sonnet-5": Price(2.0, 10.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-opus-5-5": Price(4.0, 20.0),
    "claude-opus-5": Price(5.0, 25.0),
    "claude-opus-4-8": Price(5.0, 25.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-fable-5-1": Price(10.0, 50.0),
}

CACHE_WRITE_FACTOR = 1.25
"""Writing the prompt cache (5-minute lifetime) costs 1.25 times the input price."""
CACHE_READ_FACTOR = 0.1
"""Reading the prompt cache costs a tenth of the input price."""

_DATED = re.compile(r"-\d{8}$")


def price_of(model: str) -> Price | None:
    """The list price of ``model`` (a dated id such as ``claude-haiku-4-5-20251001`` is priced as
    its alias), or None when it is not in the table."""
    return PRICES.get(model) or PRICES.get(_DATED.sub("", model))


def estimate_cost(model: str, usage: Usage) -> float | None:
    """Estimated US dollars for ``usage`` on ``model``; None for a model without a list price."""
    price = price_of(model)
    if price is None:
        return None
    dollars = (
        usage.input_tokens * price.input
        + usage.cache_creation_input_tokens * price.input * CACHE_WRITE_FACTOR
        + usage.cache_read_input_tokens * price.input * CACHE_READ_FACTOR
        + usage.output_tokens * price.output
    ) / 1_000_000
    return round(dollars, 6)


__all__ = [
    "CACHE_READ_FACTOR",
    "CACHE_WRITE_FACTOR",
    "PRICES",
    "Price",
    "estimate_cost",
    "price_of",
]
