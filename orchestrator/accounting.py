"""Usage accounting: tokens, time, estimated cost, and the run's own energy and emissions.

A sustainability product should know its own footprint: every run reports the estimated
energy of its LLM use (``wh_per_1k_tokens`` x tokens) and the emissions of that energy at the
configured grid intensity. Both are estimates from configured factors, not measurements.
"""

from __future__ import annotations

from orchestrator.config import AccountingConfig, ModelPrice
from orchestrator.events import RunUsage, StepUsage
from orchestrator.providers.base import TurnUsage

__all__ = ["add_turn", "find_price", "finish_run_usage", "turn_cost_usd"]


def add_turn(usage: StepUsage, turn: TurnUsage, cost_usd: float = 0.0) -> None:
    """Count one model call (and its estimated cost) into a step's (or the run's) usage."""
    usage.llm_calls += 1
    usage.cost_usd += cost_usd
    usage.input_tokens += turn.input_tokens
    usage.cached_tokens += turn.cached_tokens
    usage.output_tokens += turn.output_tokens
    usage.reasoning_tokens += turn.reasoning_tokens


def find_price(prices: dict[str, ModelPrice], model: str) -> ModelPrice | None:
    """Exact model name first, else the longest configured prefix (dated snapshot names such
    as ``gpt-4.1-mini-2025-04-14`` are priced like ``gpt-4.1-mini``)."""
    price = prices.get(model)
    if price is not None:
        return price
    matches = [name for name in prices if model.startswith(name)]
    return prices[max(matches, key=len)] if matches else None


def turn_cost_usd(config: AccountingConfig, model: str, turn: TurnUsage) -> float:
    """Estimated USD cost of one call; 0 for a model without a configured price.

    Cached input tokens are billed at ``cached_input`` when it is set (> 0), else at ``input``.
    """
    price = find_price(config.prices, model)
    if price is None:
        return 0.0
    cached = min(turn.cached_tokens, turn.input_tokens)
    cached_rate = price.cached_input if price.cached_input > 0 else price.input
    return (
        (turn.input_tokens - cached) * price.input
        + cached * cached_rate
        + turn.output_tokens * price.output
    ) / 1_000_000


def finish_run_usage(config: AccountingConfig, usage: RunUsage) -> None:
    """Fill the footprint estimate from the run's token totals (cost is summed per call)."""
    tokens = usage.input_tokens + usage.output_tokens
    usage.energy_wh = tokens / 1000 * config.wh_per_1k_tokens
    usage.emissions_g_co2e = usage.energy_wh / 1000 * config.grid_intensity_g_per_kwh
