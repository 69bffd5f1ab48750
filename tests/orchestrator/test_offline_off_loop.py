"""The offline engine computes its turns on the bounded CPU executor, never on the event loop's
thread: many runs at once still get their events in order, and the same answers as one run
at a time."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from orchestrator import Event, Orchestrator, RunContext, ToolsConfig
from orchestrator.events import Completed, ErrorEvent, Started
from orchestrator.providers._offline.turns import Decision
from orchestrator.providers.base import ModelRequest
from orchestrator.providers.offline import OfflineProvider
from orchestrator.registry import build_tool_services

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
QUESTIONS = (
    "When is the grid cleanest tomorrow in Ireland?",
    "What is the carbon footprint of a 40-person office with 2 sites and 5 vans?",
    "Hello!",
)


class ThreadRecordingEngine(OfflineProvider):
    """The real engine, noting the thread of every decision."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def decide(self, request: ModelRequest) -> Decision:
        self.threads.add(threading.get_ident())
        return super().decide(request)


def _orchestrator(provider: OfflineProvider) -> Orchestrator:
    config = ToolsConfig(render_processes=0)  # charts on the CPU executor too: no process
    return Orchestrator(
        provider, tool_context_services=build_tool_services(config), clock=lambda: NOW
    )


async def test_the_engine_decides_off_the_loop_thread_and_still_counts_its_cpu() -> None:
    engine = ThreadRecordingEngine()
    orch = _orchestrator(engine)
    try:
        result = await orch.run(QUESTIONS[0], RunContext(now=NOW))
    finally:
        await orch.aclose()
    assert result.status == "completed"
    assert engine.threads
    assert threading.get_ident() not in engine.threads
    assert result.usage.cpu_ms > 0  # measured on the thread that did the work


async def test_runs_at_once_get_their_events_in_order_and_the_same_reports() -> None:
    orch = _orchestrator(OfflineProvider())
    try:
        alone = {q: (await orch.run(q, RunContext(now=NOW))).report for q in QUESTIONS}
        events: dict[str, list[Event]] = {}

        async def one(index: int) -> str:
            run_id = f"run-{index}"
            seen = events.setdefault(run_id, [])

            async def emit(event: Event) -> None:
                seen.append(event)

            question = QUESTIONS[index % len(QUESTIONS)]
            result = await orch.run(question, RunContext(run_id=run_id, now=NOW), emit)
            assert result.status == "completed", result.error
            assert result.report == alone[question]
            return run_id

        await asyncio.gather(*(one(index) for index in range(24)))
    finally:
        await orch.aclose()

    for run_events in events.values():
        assert isinstance(run_events[0], Started)
        assert isinstance(run_events[-1], Completed)
        assert not any(isinstance(event, ErrorEvent) for event in run_events)
        assert [event.seq for event in run_events] == list(range(1, len(run_events) + 1))
        progress = [event.data.progress for event in run_events]
        assert progress == sorted(progress)
