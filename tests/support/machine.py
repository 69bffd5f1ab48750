"""Shared helpers for the state-machine tests: small real tools, a builder, invariant checks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from orchestrator import AssistantSpec, BudgetConfig, Orchestrator, ToolRegistry
from orchestrator.config import AccountingConfig
from orchestrator.events import (
    AgentResponse,
    AgentThinking,
    Completed,
    ErrorEvent,
    Event,
    Resumed,
    Started,
    ToolExecution,
)
from orchestrator.providers.scripted import ScriptedProvider, ScriptItem
from tools.catalog_types import DataSource, ToolContext, ToolDefinition, ToolError

FIXED_NOW = datetime(2026, 3, 18, 9, 30, tzinfo=UTC)


class AddInput(msgspec.Struct, frozen=True):
    a: int
    b: int


class AddOutput(msgspec.Struct, frozen=True):
    total: int

    def summary(self) -> str:
        return f"{self.total} in total"

    def data_sources(self) -> Sequence[DataSource]:
        return [DataSource(name="Arithmetic", kind="calculation", synthetic=False)]


class SeriesInput(msgspec.Struct, frozen=True):
    seed: int
    months: int | None


class SeriesOutput(msgspec.Struct, frozen=True):
    values: list[float]
    seed: int

    def summary(self) -> str:
        return f"{len(self.values)} synthetic monthly values (seed {self.seed})"

    def data_sources(self) -> Sequence[DataSource]:
        return [
            DataSource(
                name="Synthetic series", kind="business_data", synthetic=True, detail="seeded"
            )
        ]

    def for_model(self) -> dict[str, Any]:
        return {"count": len(self.values), "first": self.values[0] if self.values else None}


class ChartInput(msgspec.Struct, frozen=True):
    title: str


class Chart(msgspec.Struct, frozen=True):
    chart_id: str
    title: str
    svg: str

    def summary(self) -> str:
        return f"chart {self.title}"

    def data_sources(self) -> Sequence[DataSource]:
        return []

    def for_model(self) -> dict[str, str]:
        return {"chart_id": self.chart_id, "title": self.title}


class EmptyInput(msgspec.Struct, frozen=True):
    pass


def _add(args: AddInput, ctx: ToolContext) -> AddOutput:
    return AddOutput(total=args.a + args.b)


async def _series(args: SeriesInput, ctx: ToolContext) -> SeriesOutput:
    await asyncio.sleep(0)
    months = args.months or 3
    return SeriesOutput(values=[float(args.seed * 10 + i) for i in range(months)], seed=args.seed)


def _chart(args: ChartInput, ctx: ToolContext) -> Chart:
    return Chart(chart_id="c1", title=args.title, svg="<svg xmlns='http://www.w3.org/2000/svg'/>")


def _boom(args: EmptyInput, ctx: ToolContext) -> AddOutput:
    raise RuntimeError("disk on fire")


def _domain_error(args: EmptyInput, ctx: ToolContext) -> AddOutput:
    raise ToolError("region 'xx' is not supported; use ie, ni, all or gb")


def _context_echo(args: EmptyInput, ctx: ToolContext) -> dict[str, Any]:
    return {
        "now": ctx.now,
        "dataset": ctx.dataset.name if ctx.dataset else None,
        "services": sorted(ctx.services),
    }


def make_registry() -> ToolRegistry:
    """Tools whose behaviour the tests control (the real catalog is tested in tests/tools)."""
    return ToolRegistry(
        [
            ToolDefinition(name="add", description="Add integers.", input_type=AddInput, fn=_add),
            ToolDefinition(
                name="series", description="Synthetic series.", input_type=SeriesInput, fn=_series
            ),
            ToolDefinition(name="chart", description="A chart.", input_type=ChartInput, fn=_chart),
            ToolDefinition(name="boom", description="Raises.", input_type=EmptyInput, fn=_boom),
            ToolDefinition(
                name="domain_error",
                description="Raises a ToolError.",
                input_type=EmptyInput,
                fn=_domain_error,
            ),
            ToolDefinition(
                name="context_echo",
                description="Echoes the tool context.",
                input_type=EmptyInput,
                fn=_context_echo,
            ),
        ]
    )


TOOLS = ("add", "series", "chart", "boom", "domain_error", "context_echo")


def make_assistants() -> dict[str, AssistantSpec]:
    return {
        name: AssistantSpec(
            name=name,
            model="test-model",
            instructions=f"You are the {name}.",
            tools=() if name == "planner" else TOOLS,
        )
        for name in ("planner", "carbon", "analysis", "report")
    }


def build(
    script: Iterable[ScriptItem] | Mapping[str, Iterable[ScriptItem]],
    *,
    budgets: BudgetConfig | None = None,
    accounting: AccountingConfig | None = None,
    delta_interval_ms: int = 0,
    previous_response_id: bool = False,
    services: dict[str, Any] | None = None,
) -> tuple[Orchestrator, ScriptedProvider]:
    provider = ScriptedProvider(script)
    orch = Orchestrator(
        provider,
        make_assistants(),
        # Scripted answers test the machine's paths; grounding has tests of its own
        # (tests/orchestrator/test_grounding.py), which turn the checks on.
        budgets=budgets or BudgetConfig(retry_backoff_s=0.001, grounding_checks=False),
        accounting=accounting or AccountingConfig(),
        tools=make_registry(),
        tool_context_services=services,
        clock=lambda: FIXED_NOW,
        stream_delta_interval_ms=delta_interval_ms,
        use_previous_response_id=previous_response_id,
    )
    return orch, provider


def token(event: Event) -> str:
    """A compact name for an event, so tests can compare exact sequences."""
    if isinstance(event, Started):
        return "started"
    if isinstance(event, AgentThinking):
        suffix = ":partial" if event.data.partial_text is not None else ""
        return f"thinking:{event.agent_name}{suffix}"
    if isinstance(event, AgentResponse):
        return f"response:{event.agent_name}"
    if isinstance(event, ToolExecution):
        return f"tool:{event.data.tool}:{event.data.status}"
    if isinstance(event, Completed):
        return "completed"
    if isinstance(event, Resumed):
        return f"resumed:{event.data.from_step}"
    return f"error:{event.data.code}"


def tokens(events: Sequence[Event]) -> list[str]:
    return [token(event) for event in events]


def check_invariants(events: Sequence[Event], *, added_agents: Iterable[str] = ()) -> None:
    """What must hold for every run: seq 1..n, progress monotonic, one terminal event last.

    ``added_agents`` names the assistants a test added to the built-in ones."""
    assert events, "a run emits at least its terminal event"
    assert isinstance(events[0], Started)
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    progress = [event.data.progress for event in events]
    assert progress == sorted(progress), progress
    assert all(0 <= value <= 100 for value in progress)
    terminal = [event for event in events if isinstance(event, Completed | ErrorEvent)]
    assert len(terminal) == 1
    assert terminal[0] is events[-1]
    if isinstance(terminal[0], Completed):
        assert terminal[0].data.progress == 100
    assert len({event.run_id for event in events}) == 1
    for event in events:
        moment = datetime.fromisoformat(event.timestamp)
        assert moment.utcoffset() is not None
        agents = {"system", "planner", "carbon", "analysis", "report", *added_agents}
        assert event.agent_name in agents
