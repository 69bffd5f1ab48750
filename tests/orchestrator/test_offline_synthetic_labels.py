"""The offline engine labels what it renders from the provenance of the data it renders.

Through the real state machine and tools: a run on the synthetic grid source gets a chart and a
dashboard that say "SYNTHETIC data — not measured" inside themselves; the same question on a
measured series (a grid file) gets neither label.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator import Orchestrator, OrchestratorSettings, RunContext, ToolsConfig
from orchestrator.events import ToolExecution
from orchestrator.machine import RunResult
from tools.render.labels import SYNTHETIC_LABEL

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
QUESTION = "How green was the grid last week in Ireland?"


async def _ask(tools: ToolsConfig) -> RunResult:
    orch = Orchestrator.from_settings(OrchestratorSettings(tools=tools))
    try:
        return await orch.ask(QUESTION, RunContext(now=NOW))
    finally:
        await orch.aclose()


def _render_arguments(result: RunResult) -> dict[str, object]:
    return {
        e.data.tool: e.data.arguments.get("synthetic")
        for e in result.events
        if isinstance(e, ToolExecution) and e.data.tool.startswith("render_")
    }


def _dashboard_header(report: str) -> list[str]:
    block = report.split("```text\n", 1)[1]
    return block.splitlines()[:4]


async def test_synthetic_grid_data_is_labelled_in_the_chart_and_the_dashboard() -> None:
    result = await _ask(ToolsConfig(render_processes=0))
    assert result.status == "completed"
    assert all(source.synthetic for source in result.sources)
    assert _render_arguments(result) == {"render_dashboard": True, "render_chart": True}
    (chart,) = result.charts
    assert SYNTHETIC_LABEL in chart.svg
    assert 'id="synthetic-label"' in chart.svg
    assert SYNTHETIC_LABEL in _dashboard_header(result.report)


async def test_measured_grid_data_carries_no_synthetic_label(tmp_path: Path) -> None:
    grid = tmp_path / "grid.csv"
    start = datetime(2026, 3, 9, tzinfo=UTC)
    rows = (f"{(start + timedelta(minutes=30 * i)).isoformat()},{200 + i % 48}" for i in range(336))
    grid.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    result = await _ask(ToolsConfig(render_processes=0, grid_source="file", grid_file=str(grid)))
    assert result.status == "completed"
    assert result.sources
    assert not any(source.synthetic for source in result.sources)
    assert _render_arguments(result) == {"render_dashboard": False, "render_chart": False}
    (chart,) = result.charts
    assert "SYNTHETIC" not in chart.svg
    assert "SYNTHETIC" not in result.report
