from __future__ import annotations

import pytest

from dlpilot.agent import PRICES, Usage, estimate_cost
from dlpilot.agent._pricing import price_of


def test_a_million_tokens_each_way_costs_the_list_prices():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    price = PRICES["claude-sonnet-5-5"]
    assert estimate_cost("claude-sonnet-5-5", usage) == pytest.approx(price.input + price.output)


def test_a_dated_model_id_is_priced_as_its_alias():
    assert price_of("claude-haiku-4-5-20251001") == PRICES["claude-haiku-4-5"]


def test_an_unknown_model_has_no_estimate_rather_than_a_guess():
    assert estimate_cost("claude-unknown-9", Usage(input_tokens=10)) is None


def test_no_tokens_cost_nothing():
    assert estimate_cost("claude-sonnet-5-5", Usage()) == 0
