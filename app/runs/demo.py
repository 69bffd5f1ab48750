"""``GET /test-stream``: a public demo of a real run's stream, no auth, no LLM, no database.

The events are the ones a real offline run of :data:`DEMO_QUESTION` emits: the same agent
names (``system``, ``planner``, ``carbon``, ``report``), the same order (plan, the carbon
step with its tool calls, the report step with its rendering tools, then ``completed``) and
the same payload shapes (the real event structs, the real envelope and SSE framing), sent
about :data:`DEMO_INTERVAL_S` apart, so client authors can test their parser and their
progress display against what they will really receive. Only the figures are fixed and
illustrative; the report says so. ``?outcome=error`` plays a run whose model server failed
during the report step instead: it ends with an ``error`` event, as real failed runs do (a
real run ends with exactly one of ``completed`` or ``error``).

A test (``tests/app/runs/test_demo_stream.py``) checks this sequence against a real offline
run of the same question, so the demo cannot drift from what the orchestrator emits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from litestar import get
from litestar.params import QueryParameter
from litestar.response import Stream

from app.auth.security import NO_AUTH
from app.openapi_errors import SSE_ERRORS, error_responses
from app.runs.frames import event_frame
from app.runs.http import SSE_MEDIA_TYPE, sse_response
from app.runs.store import event_type_of
from orchestrator import (
    AgentResponse,
    AgentResponseData,
    AgentThinking,
    AgentThinkingData,
    ChartRef,
    Completed,
    CompletedData,
    DataSourceRef,
    ErrorData,
    ErrorEvent,
    Event,
    PlanStepRef,
    RunUsage,
    Started,
    StartedData,
    StepUsage,
    ToolExecution,
    ToolExecutionData,
    encode_envelope,
    utc_timestamp,
)
from tools.grid.zones import region_zone

__all__ = ["DEMO_INTERVAL_S", "DEMO_QUESTION", "DemoOutcome", "demo_events", "demo_stream"]

DEMO_INTERVAL_S = 0.2
DEMO_QUESTION = "When is the cleanest time to charge an electric car in Ireland tomorrow?"
DemoOutcome = Literal["completed", "error"]
_RUN = "demo"
_SOURCE = DataSourceRef(
    name="synthetic grid profile",
    kind="grid_intensity",
    synthetic=True,
    detail="SYNTHETIC: generated daily demand shape; not measured data",
)
_CHART_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="120" viewBox="0 0 320 120">'
    '<rect width="320" height="120" fill="#ffffff"/>'
    '<polyline points="0,60 60,70 120,40 160,90 200,85 260,30 320,50" fill="none" '
    'stroke="#1f4e79" stroke-width="2"/>'
    '<rect x="150" y="0" width="60" height="120" fill="#2e7d32" opacity="0.25"/>'
    '<text x="8" y="16" font-size="12">Demo chart: illustrative values</text></svg>'
)


class _Clock:
    """Sequence numbers and timestamps of the demo run, one event after another."""

    def __init__(self) -> None:
        self.seq = 0

    def next(self) -> dict[str, Any]:
        self.seq += 1
        return {"run_id": _RUN, "seq": self.seq, "timestamp": utc_timestamp()}


def _usage(calls: int, tool_ms: float) -> StepUsage:
    return StepUsage(
        llm_calls=calls, input_tokens=0, output_tokens=0, wall_ms=tool_ms + 2.0, tool_ms=tool_ms
    )


def _tool(
    clock: _Clock, agent: str, label: str, call: tuple[str, str, dict[str, Any]], progress: int
) -> list[Event]:
    """The ``started`` and ``finished`` events of one tool call, as the machine sends them."""
    call_id, tool, arguments = call
    summary = f"{tool}: illustrative demo result"
    started = ToolExecutionData(
        progress=progress,
        step=agent,
        call_id=call_id,
        tool=tool,
        status="started",
        arguments=arguments,
    )
    finished = ToolExecutionData(
        progress=progress,
        step=agent,
        call_id=call_id,
        tool=tool,
        status="finished",
        arguments=arguments,
        duration_ms=1.0,
        result_summary=summary,
    )
    return [
        ToolExecution(
            **clock.next(), agent_name=agent, message=f"{label}: calling {tool}", data=started
        ),
        ToolExecution(
            **clock.next(),
            agent_name=agent,
            message=f"{label}: {tool} finished in 1 ms: {summary}",
            data=finished,
        ),
    ]


def _report(tomorrow: date, image: str) -> str:
    return "\n".join(
        [
            "I read this as: the cleanest 4-hour window to charge an electric car tomorrow, "
            f"{tomorrow}, on the Republic of Ireland grid.",
            "",
            "## Executive summary",
            "",
            f"The cleanest 4-hour window tomorrow is {tomorrow} 11:00-15:00, averaging "
            "160 gCO2/kWh (low for the day).",
            "",
            "_This is a demo stream (`GET /test-stream`): the figures are fixed and "
            "illustrative, no run was executed._",
            "",
            "## Key figures",
            "",
            f"- **Best window**: {tomorrow} 11:00-15:00",
            "- **Window mean**: 160 gCO2/kWh",
            "- **Day mean**: 194 gCO2/kWh",
            "",
            "## Chart",
            "",
            f"![Grid carbon intensity, Republic of Ireland, {tomorrow}]({image})",
            "",
            "## Data provenance",
            "",
            "- synthetic grid profile: SYNTHETIC, not measured data",
        ]
    )


def demo_events(outcome: DemoOutcome = "completed", now: datetime | None = None) -> list[Event]:
    """The demo run's events, timestamped now, ending with ``completed`` (or ``error``)."""
    moment = now or datetime.now(UTC)
    tomorrow = moment.astimezone(region_zone("ie")).date() + timedelta(days=1)
    plan = [
        PlanStepRef(
            kind="carbon",
            task=f"Find the cleanest 4 hours window for tomorrow, {tomorrow}, on the Republic "
            "of Ireland grid (ie).",
        ),
        PlanStepRef(
            kind="report",
            task="Write the report: executive summary, key figures, dashboard, chart and data "
            "provenance (mark synthetic data).",
        ),
    ]
    day = tomorrow.isoformat()
    clock = _Clock()
    events: list[Event] = [
        Started(
            **clock.next(),
            agent_name="system",
            message="Run started",
            data=StartedData(run_id=_RUN, conversation_id=None, question=DEMO_QUESTION),
        ),
        AgentThinking(
            **clock.next(),
            agent_name="planner",
            message="Planner: choosing the steps for this question",
            data=AgentThinkingData(progress=1, state="planning"),
        ),
        AgentResponse(
            **clock.next(),
            agent_name="planner",
            message="Planner: plan carbon → report",
            data=AgentResponseData(
                progress=10,
                step="planner",
                output="\n".join(
                    f"{index}. {step.kind}: {step.task}" for index, step in enumerate(plan, 1)
                ),
                usage=_usage(1, 0.0),
                duration_ms=2.0,
            ),
        ),
        AgentThinking(
            **clock.next(),
            agent_name="carbon",
            message=f"Carbon assistant: {plan[0].task}",
            data=AgentThinkingData(
                progress=10, state="running_step", step="carbon", step_index=0, plan=plan
            ),
        ),
        *_tool(
            clock,
            "carbon",
            "Carbon assistant",
            ("demo_0_1", "grid_best_window", {"region": "ie", "duration_hours": 4.0, "date": day}),
            10,
        ),
        *_tool(
            clock,
            "carbon",
            "Carbon assistant",
            ("demo_0_2", "grid_intensity", {"region": "ie", "start_date": day, "end_date": day}),
            11,
        ),
        AgentResponse(
            **clock.next(),
            agent_name="carbon",
            message="Carbon assistant: finished in 0.0 s",
            data=AgentResponseData(
                progress=52,
                step="carbon",
                step_index=0,
                output=f"### Cleanest time to use electricity\n\n{day} 11:00-15:00, "
                "160 gCO2/kWh (illustrative demo figures).",
                usage=_usage(2, 2.0),
                duration_ms=4.0,
            ),
        ),
        AgentThinking(
            **clock.next(),
            agent_name="report",
            message=f"Report assistant: {plan[1].task}",
            data=AgentThinkingData(
                progress=52, state="reporting", step="report", step_index=1, plan=plan
            ),
        ),
    ]
    usage = RunUsage(llm_calls=3, wall_ms=12.0, tool_ms=2.0, messages=6, energy_basis="none")
    if outcome == "error":
        events.append(
            ErrorEvent(
                **clock.next(),
                agent_name="system",
                message="Run failed: report: cannot connect to the model server (llm_unavailable)",
                data=ErrorData(
                    progress=52,
                    code="llm_unavailable",
                    error="report: cannot connect to the model server (demo of a failed run)",
                    step="report",
                    retryable=True,
                    plan=plan,
                    usage=usage,
                ),
            )
        )
        return events
    title = f"Grid carbon intensity, Republic of Ireland, {day}"
    chart_args = {"kind": "grid_intensity", "region": "ie", "start_date": day, "end_date": day}
    dashboard_args = {
        "title": "Cleanest time to use electricity",
        "kpis": [{"label": "Window mean", "value": 160.0, "unit": "gCO2/kWh"}],
    }
    events += [
        *_tool(
            clock,
            "report",
            "Report assistant",
            ("demo_1_1", "render_dashboard", dashboard_args),
            52,
        ),
        *_tool(clock, "report", "Report assistant", ("demo_1_2", "render_chart", chart_args), 53),
    ]
    image = f"/images/co2plot_day_ie_{day}_{day}.png"
    report = _report(tomorrow, image)
    events += [
        AgentResponse(
            **clock.next(),
            agent_name="report",
            message="Report assistant: finished in 0.1 s",
            data=AgentResponseData(
                progress=95,
                step="report",
                step_index=1,
                output=report,
                usage=_usage(2, 1.0),
                duration_ms=3.0,
            ),
        ),
        Completed(
            **clock.next(),
            agent_name="system",
            message="Run completed in 0.1 s",
            data=CompletedData(
                full_content=report,
                final_response=report,
                plan=plan,
                usage=usage,
                sources=[_SOURCE],
                charts=[ChartRef(id="demo-chart", title=title, svg=_CHART_SVG, url=image)],
                duration_ms=15.0,
            ),
        ),
    ]
    return events


async def _frames(outcome: DemoOutcome) -> AsyncGenerator[bytes, None]:
    for index, event in enumerate(demo_events(outcome)):
        if index:
            await asyncio.sleep(DEMO_INTERVAL_S)
        yield event_frame(event.seq, event_type_of(event), encode_envelope(event))


@get(
    "/test-stream",
    media_type=SSE_MEDIA_TYPE,
    opt={"exclude_from_auth": True},
    security=NO_AUTH,
    tags=["questions"],
    sync_to_thread=False,
    description="A demo SSE stream shaped like a real run (no auth, no LLM); `?outcome=error` "
    f"ends it with a failed run's `error` event instead of `completed`. {SSE_ERRORS}",
    responses=error_responses(
        (400, "`outcome` is not `completed` or `error` (`validation_error`)")
    ),
)
def demo_stream(
    outcome: Annotated[DemoOutcome, QueryParameter()] = "completed",
) -> Stream:
    """A demo SSE stream shaped like a real run (no auth, no LLM): ``?outcome=error`` ends it
    with the ``error`` event of a failed run instead of ``completed``."""
    return sse_response(_frames(outcome))
