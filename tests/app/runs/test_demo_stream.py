"""``GET /test-stream`` plays what a real run emits: agent names, event order, payload shapes.

The reference is the orchestrator itself: a real offline run of the demo question (the
``completed`` demo), and a real run whose model server fails in the report step (the
``?outcome=error`` demo). If the orchestrator changes what it emits, these tests fail until
the demo follows.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.runs.demo import DEMO_QUESTION, demo_events
from orchestrator.config import BudgetConfig, OrchestratorSettings, ToolsConfig
from orchestrator.context import RunContext
from orchestrator.events import TERMINAL_EVENT_TYPES, Event
from orchestrator.machine import Orchestrator
from orchestrator.providers.base import ProviderUnavailable
from orchestrator.providers.scripted import Fail, Reply, ScriptedProvider, plan_reply, tool_call
from tests.support.sse import parse_sse

Signature = tuple[str, str, str | None, str | None, str | None]


def _builtins(events: list[Event]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(event) for event in events]


def _signature(events: list[dict[str, Any]]) -> list[Signature]:
    """Who sent what, in order: event type, agent, and for tools the tool and its status,
    for thinking events the machine state."""
    return [
        (
            event["event_type"],
            event["agent_name"],
            event["data"].get("tool"),
            event["data"].get("status"),
            event["data"].get("state"),
        )
        for event in events
    ]


def _shapes(events: list[dict[str, Any]]) -> list[tuple[str, frozenset[str], frozenset[str]]]:
    return [(event["event_type"], frozenset(event), frozenset(event["data"])) for event in events]


async def _real_offline_run() -> list[dict[str, Any]]:
    settings = OrchestratorSettings(tools=ToolsConfig(render_processes=0))
    orchestrator = Orchestrator.from_settings(settings)
    try:
        result = await orchestrator.ask(DEMO_QUESTION, RunContext())
    finally:
        await orchestrator.aclose()
    return _builtins(result.events)


async def _real_run_failing_in_the_report_step() -> list[dict[str, Any]]:
    day = "2026-12-07"
    provider = ScriptedProvider(
        [
            plan_reply(("carbon", "Find the cleanest window"), ("report", "Write the report")),
            Reply(
                tool_calls=(
                    tool_call("grid_best_window", {"region": "ie", "duration_hours": 4.0}),
                    tool_call(
                        "grid_intensity", {"region": "ie", "start_date": day, "end_date": day}
                    ),
                )
            ),
            Reply(text="### Cleanest time to use electricity"),
            Fail(error=ProviderUnavailable("report: cannot connect to the model server")),
        ]
    )
    orchestrator = Orchestrator(provider, budgets=BudgetConfig(provider_retries=0))
    try:
        result = await orchestrator.ask(DEMO_QUESTION, RunContext())
    finally:
        await orchestrator.aclose()
    return _builtins(result.events)


async def test_the_demo_is_what_a_real_offline_run_of_its_question_emits() -> None:
    real = await _real_offline_run()
    demo = _builtins(demo_events())
    assert _signature(demo) == _signature(real)
    assert _shapes(demo) == _shapes(real)
    assert real[-1]["event_type"] == "completed"


async def test_the_error_demo_is_what_a_run_failing_in_its_report_step_emits() -> None:
    real = await _real_run_failing_in_the_report_step()
    demo = _builtins(demo_events("error"))
    assert _signature(demo) == _signature(real)
    assert _shapes(demo) == _shapes(real)
    assert (demo[-1]["data"]["code"], real[-1]["data"]["code"]) == ("llm_unavailable",) * 2
    assert demo[-1]["data"]["step"] == real[-1]["data"]["step"] == "report"


def test_the_demo_keeps_the_stream_invariants() -> None:
    for outcome in ("completed", "error"):
        events = _builtins(demo_events(outcome))
        assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
        progress = [event["data"]["progress"] for event in events]
        assert progress == sorted(progress)
        terminal = [e["event_type"] for e in events if e["event_type"] in TERMINAL_EVENT_TYPES]
        assert terminal == [outcome]
        assert events[-1]["event_type"] == outcome


async def test_the_demo_stream_is_public_and_ends_like_a_real_run(
    client: AsyncTestClient[Litestar],
) -> None:
    expected = _signature(_builtins(demo_events()))
    response = await client.get("/test-stream")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [frame for frame in parse_sse(response.text) if frame.id is not None]
    assert _signature([frame.event_body for frame in frames]) == expected
    for frame in frames:
        assert frame.event_body["event_type"] == frame.event
        assert frame.event_body["seq"] == int(frame.id or 0)
    completed = frames[-1].event_body["data"]
    image = completed["charts"][0]["url"]
    assert f"]({image})" in completed["full_content"]
    plot = await client.get(image)  # the demo's image link is a real, loadable plot
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"


async def test_the_error_demo_and_a_bad_outcome(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/test-stream", params={"outcome": "error"})
    frames = [frame for frame in parse_sse(response.text) if frame.id is not None]
    assert frames[-1].event == "error"
    assert frames[-1].event_body["data"]["code"] == "llm_unavailable"
    bad = await client.get("/test-stream", params={"outcome": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "validation_error"
