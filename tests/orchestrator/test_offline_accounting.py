"""An offline run is accounted for honestly, in every event that carries usage.

No language model runs, so the step responses and the completed event report no LLM calls,
tokens, cost or LLM energy; they report the engine's measured CPU time instead, and an energy
estimate from it at the configured watts per core, labelled ``energy_basis="cpu_time"``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator import AccountingConfig, Orchestrator, OrchestratorSettings, RunContext
from orchestrator.config import ToolsConfig
from orchestrator.events import AgentResponse, Completed

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)


async def test_offline_run_reports_cpu_time_not_tokens_everywhere() -> None:
    settings = OrchestratorSettings(
        accounting=AccountingConfig(watts_per_core=12.0, grid_intensity_g_per_kwh=400.0),
        tools=ToolsConfig(render_processes=0),
    )
    orch = Orchestrator.from_settings(settings)
    try:
        events = [
            e async for e in orch.stream("How green was the grid last week?", RunContext(now=NOW))
        ]
    finally:
        await orch.aclose()
    responses = [e for e in events if isinstance(e, AgentResponse)]
    assert [e.data.step for e in responses] == ["planner", "carbon", "report"]
    for response in responses:
        step = response.data.usage
        assert (step.llm_calls, step.input_tokens, step.output_tokens, step.cost_usd) == (
            0,
            0,
            0,
            0.0,
        )
        assert step.cpu_ms > 0
    completed = events[-1]
    assert isinstance(completed, Completed)
    usage = completed.data.usage
    assert (usage.llm_calls, usage.input_tokens, usage.output_tokens) == (0, 0, 0)
    assert (usage.cost_usd, usage.energy_wh) == (0.0, 0.0)
    assert usage.energy_basis == "cpu_time"
    assert usage.cpu_ms == pytest.approx(sum(r.data.usage.cpu_ms for r in responses))
    assert usage.cpu_energy_wh == pytest.approx(usage.cpu_ms / 3_600_000 * 12.0)
    assert usage.emissions_g_co2e == pytest.approx(usage.cpu_energy_wh / 1000 * 400.0)
    assert usage.cpu_energy_wh > 0
    assert usage.messages > 0  # the message budget still counts the engine's turns
    # The report's provenance says the same in words.
    assert "No LLM tokens were used and there is no LLM cost" in completed.data.full_content
