"""Usage accounting: tokens, time, estimated cost, and the run's own energy and emissions.

A sustainability product should know its own footprint: every run reports the estimated
energy of its LLM use (``wh_per_1k_tokens`` x tokens) and the emissions of that energy at the
configured grid intensity. Both are estimates from configured factors, not measurements.

An offline run is accounted for honestly: no language model ran, so it has no LLM calls,
tokens, cost or LLM energy. What it did spend is CPU time in this process, which the offline
engine measures per turn; its energy is estimated as CPU seconds x ``watts_per_core``
(``energy_basis`` "cpu_time") and labelled as such wherever usage is shown.
"""

from __future__ import annotations

from decimal import Decimal

from orchestrator.config import AccountingConfig, ModelPrice
from orchestrator.events import RunUsage, StepUsage
from orchestrator.providers.base import TurnUsage

__all__ = [
    "add_turn",
    "describe_usage",
    "find_price",
    "finish_run_usage",
    "turn_cost_usd",
]

_MS_PER_HOUR = 3_600_000


def add_turn(usage: StepUsage, turn: TurnUsage, cost_usd: float = 0.0) -> None:
    """Count one turn (and its estimated cost) into a step's (or the run's) usage: an LLM
    call when a language model produced it, else only the CPU time it measured."""
    usage.cpu_ms += turn.cpu_ms
    if not turn.language_model:
        return
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
    A turn no language model produced (the offline engine) costs nothing.
    """
    price = find_price(config.prices, model)
    if price is None or not turn.language_model:
        return 0.0
    cached = min(turn.cached_tokens, turn.input_tokens)
    cached_rate = price.cached_input if price.cached_input > 0 else price.input
    return (
        (turn.input_tokens - cached) * price.input
        + cached * cached_rate
        + turn.output_tokens * price.output
    ) / 1_000_000


def finish_run_usage(config: AccountingConfig, usage: RunUsage) -> None:
    """Fill the footprint estimate from the run's token totals and measured CPU time (cost is
    summed per call), and say which of the two it rests on."""
    tokens = usage.input_tokens + usage.output_tokens
    usage.energy_wh = tokens / 1000 * config.wh_per_1k_tokens
    usage.cpu_energy_wh = usage.cpu_ms / _MS_PER_HOUR * config.watts_per_core
    total_wh = usage.energy_wh + usage.cpu_energy_wh
    usage.emissions_g_co2e = total_wh / 1000 * config.grid_intensity_g_per_kwh
    if usage.llm_calls or tokens:
        usage.energy_basis = "llm_tokens"
    elif usage.cpu_ms > 0:
        usage.energy_basis = "cpu_time"
    else:
        usage.energy_basis = "none"


def _figure(value: float) -> str:
    """Three significant digits without exponent notation (an offline run's energy is a few
    millionths of a Wh: ``0.0000205``, not ``2.05e-05``)."""
    return f"{Decimal(f'{value:.3g}'):f}"


def describe_usage(usage: RunUsage) -> str:
    """One line for people (the CLI's summary): what the run consumed, estimates labelled."""
    emissions = f"{_figure(usage.emissions_g_co2e)} gCO2e"
    if usage.energy_basis == "cpu_time":
        return (
            f"offline engine, no language model: 0 LLM tokens, no LLM cost; "
            f"{usage.cpu_ms:.1f} ms CPU measured; energy {_figure(usage.cpu_energy_wh)} Wh and "
            f"{emissions} estimated from the CPU time"
        )
    tokens = usage.input_tokens + usage.output_tokens
    return (
        f"{usage.llm_calls} LLM calls, {tokens:,} tokens "
        f"({usage.input_tokens:,} in, {usage.output_tokens:,} out), "
        f"estimated cost ${usage.cost_usd:.4f}; energy {_figure(usage.energy_wh)} Wh and "
        f"{emissions} estimated from tokens"
    )
