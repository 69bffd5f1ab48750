"""CPU-heavy tool work stays off the event loop: synchronous tools run in a worker thread,
charts in the renderer process the orchestrator owns and stops on ``aclose``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec
import pytest

from orchestrator import (
    Event,
    Orchestrator,
    OrchestratorSettings,
    RunContext,
    ToolExecution,
    ToolsConfig,
)
from orchestrator.providers.scripted import Reply, plan_reply, tool_call
from orchestrator.registry import build_tool_services
from tests.support.machine import AddInput, AddOutput, build
from tools.catalog_types import ToolContext, ToolDefinition
from tools.render.executor import RENDERER_SERVICE, ChartRenderer


def _running(renderer: ChartRenderer) -> bool:
    return renderer.started


async def test_synchronous_tools_run_off_the_event_loop_thread() -> None:
    threads: list[int] = []

    def add_recording(args: AddInput, ctx: ToolContext) -> AddOutput:
        threads.append(threading.get_ident())
        return AddOutput(total=args.a + args.b)

    orch, _ = build(
        [
            plan_reply(("carbon", "Add."), ("report", "Report.")),
            Reply(tool_calls=(tool_call("add", {"a": 2, "b": 3}, "t1"),)),
            Reply(text="The total is 5."),
            Reply(text="# Report\nFive."),
        ]
    )
    orch.tools.register(
        ToolDefinition(name="add", description="Add.", input_type=AddInput, fn=add_recording),
        replace=True,
    )
    result = await orch.ask("add two and three")
    assert result.status == "completed"
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    finished = [e for e in result.events if isinstance(e, ToolExecution)][-1]
    assert finished.data.status == "finished"
    assert finished.data.result_summary == "5 in total"


async def test_offline_chart_run_uses_the_renderer_process_and_aclose_stops_it() -> None:
    settings = OrchestratorSettings(tools=ToolsConfig(render_processes=1))
    orch = Orchestrator.from_settings(settings)
    renderer = orch._services[RENDERER_SERVICE]
    assert isinstance(renderer, ChartRenderer)
    assert renderer.processes == 1
    assert not _running(renderer)  # no process until a chart is drawn
    result = await orch.ask(
        "When is the grid cleanest tomorrow in Ireland?",
        RunContext(now=datetime(2026, 3, 18, 9, 0, tzinfo=UTC)),
    )
    assert result.status == "completed"
    assert result.charts
    assert result.charts[0].svg.startswith("<?xml")
    assert _running(renderer)
    await orch.aclose()
    assert not _running(renderer)


def test_render_processes_is_configurable_and_never_negative() -> None:
    assert ToolsConfig().render_processes == 1
    in_thread = build_tool_services(ToolsConfig(render_processes=0))[RENDERER_SERVICE]
    assert isinstance(in_thread, ChartRenderer)
    assert in_thread.processes == 0
    decoded = msgspec.convert({"render_processes": 2}, ToolsConfig)
    assert decoded.render_processes == 2
    with pytest.raises(msgspec.ValidationError, match=">= 0"):
        msgspec.convert({"render_processes": -1}, ToolsConfig)


async def test_runs_on_a_provider_that_never_suspends_take_turns_on_the_loop() -> None:
    """The scripted provider does no I/O; without a yield per model call one run would hold
    the loop from start to finish and a second run could not even start meanwhile."""
    plan = plan_reply(("report", "Report."))
    report = Reply(text="# Report\nDone.")
    orch, _ = build({"planner": [plan, plan], "report": [report, report]})
    order: list[str] = []

    def recorder(name: str) -> Callable[[Event], Awaitable[None]]:
        async def emit(event: Event) -> None:
            order.append(f"{name}:{type(event).__name__}")

        return emit

    results = await asyncio.gather(
        orch.run("question a", RunContext(run_id="a"), recorder("a")),
        orch.run("question b", RunContext(run_id="b"), recorder("b")),
    )
    assert [r.status for r in results] == ["completed", "completed"]
    assert order.index("b:Started") < order.index("a:Completed")
    assert order.index("a:Started") < order.index("b:Completed")
