"""Cost and footprint estimates of the run's own compute: LLM use, or the offline engine's CPU."""

from __future__ import annotations

import msgspec
import pytest

from orchestrator.accounting import (
    add_turn,
    describe_usage,
    find_price,
    finish_run_usage,
    turn_cost_usd,
)
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
    assert usage.cpu_ms == 0.0


def test_an_engine_turn_is_no_llm_call_and_costs_nothing() -> None:
    engine_turn = TurnUsage(cpu_ms=2.5, language_model=False)
    assert (
        turn_cost_usd(
            AccountingConfig(prices={"offline": PRICES["gpt-4.1"]}), "offline", engine_turn
        )
        == 0.0
    )
    usage = StepUsage()
    add_turn(usage, engine_turn)
    add_turn(usage, engine_turn)
    assert (usage.llm_calls, usage.input_tokens, usage.output_tokens, usage.cost_usd) == (
        0,
        0,
        0,
        0.0,
    )
    assert usage.cpu_ms == pytest.approx(5.0)


def test_an_offline_run_is_estimated_from_its_cpu_time_and_says_so() -> None:
    usage = RunUsage(cpu_ms=7_200.0)  # 7.2 CPU seconds
    config = AccountingConfig(watts_per_core=10.0, grid_intensity_g_per_kwh=250)
    finish_run_usage(config, usage)
    assert usage.energy_basis == "cpu_time"
    assert usage.energy_wh == 0.0  # no LLM energy: no language model ran
    assert usage.cpu_energy_wh == pytest.approx(7.2 * 10.0 / 3600)  # 0.02 Wh
    assert usage.emissions_g_co2e == pytest.approx(0.02 / 1000 * 250)
    line = describe_usage(usage)
    assert "no language model" in line
    assert "0 LLM tokens" in line
    assert "7200.0 ms CPU measured" in line
    assert "energy 0.02 Wh and 0.005 gCO2e estimated from the CPU time" in line


def test_a_model_run_is_estimated_from_tokens_and_says_so() -> None:
    usage = RunUsage(llm_calls=2, input_tokens=3_000, output_tokens=1_000, cost_usd=0.0123)
    finish_run_usage(AccountingConfig(wh_per_1k_tokens=0.5), usage)
    assert usage.energy_basis == "llm_tokens"
    assert usage.cpu_energy_wh == 0.0
    line = describe_usage(usage)
    assert line.startswith("2 LLM calls, 4,000 tokens (3,000 in, 1,000 out)")
    assert "estimated cost $0.0123" in line
    assert "energy 2 Wh" in line


def test_a_run_that_computed_nothing_has_no_energy_basis() -> None:
    usage = RunUsage()
    finish_run_usage(AccountingConfig(), usage)
    assert (usage.energy_basis, usage.energy_wh, usage.cpu_energy_wh) == ("none", 0.0, 0.0)


@pytest.mark.parametrize("watts", [-1.0, 500.1])
def test_watts_per_core_is_bounded(watts: float) -> None:
    with pytest.raises(msgspec.ValidationError, match="watts_per_core"):
        msgspec.convert({"watts_per_core": watts}, AccountingConfig)
