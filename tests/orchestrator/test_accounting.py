"""Cost and footprint estimates of the run's own LLM use."""

from __future__ import annotations

import pytest

from orchestrator.accounting import add_turn, find_price, finish_run_usage, turn_cost_usd
from orchestrator.config import AccountingConfig, ModelPrice
from orchestrator.events import RunUsage, StepUsage
from orchestrator.providers.base import TurnUsage

PRICES = {
    "gpt-4.1": ModelPrice(input=2.0, cached_input=0.5, output=8.0),
    "gpt-4.1-mini": ModelPrice(input=0.4, output=1.6),
}


def test_price_lookup_prefers_exact_then_longest_prefix() -> None:
    assert find_price(PRICES, "gpt-4.1") is PRICES["gpt-4.1"]
    assert find_price(PRICES, "gpt-4.1-mini-2025-04-14") is PRICES["gpt-4.1-mini"]
    assert find_price(PRICES, "gpt-4.1-2025-04-14") is PRICES["gpt-4.1"]
    assert find_price(PRICES, "llama3") is None


def test_cost_bills_cached_tokens_at_the_cached_rate() -> None:
    config = AccountingConfig(prices=PRICES)
    turn = TurnUsage(input_tokens=10_000, cached_tokens=4_000, output_tokens=1_000)
    assert turn_cost_usd(config, "gpt-4.1", turn) == pytest.approx(
        (6_000 * 2.0 + 4_000 * 0.5 + 1_000 * 8.0) / 1e6
    )
    # No cached price configured -> cached tokens cost the input price.
    assert turn_cost_usd(config, "gpt-4.1-mini", turn) == pytest.approx(
        (10_000 * 0.4 + 1_000 * 1.6) / 1e6
    )
    assert turn_cost_usd(config, "unknown-model", turn) == 0.0


def test_footprint_from_tokens_and_grid_intensity() -> None:
    usage = RunUsage(input_tokens=3_000, output_tokens=1_000)
    finish_run_usage(AccountingConfig(wh_per_1k_tokens=0.5, grid_intensity_g_per_kwh=250), usage)
    assert usage.energy_wh == pytest.approx(2.0)
    assert usage.emissions_g_co2e == pytest.approx(0.5)


def test_add_turn_counts_calls_and_tokens() -> None:
    usage = StepUsage()
    add_turn(usage, TurnUsage(input_tokens=5, cached_tokens=2, output_tokens=3, reasoning_tokens=1))
    add_turn(usage, TurnUsage(input_tokens=1))
    assert (usage.llm_calls, usage.input_tokens, usage.cached_tokens) == (2, 6, 2)
    assert (usage.output_tokens, usage.reasoning_tokens) == (3, 1)
