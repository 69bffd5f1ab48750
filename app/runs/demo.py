"""``GET /test-stream``: a public demo of the wire format, no auth, no LLM, no database.

One event of each of the six types, built from the real event structs and sent with the real
envelope about 0.3 s apart, so client authors can test their parser against the exact bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from litestar import get
from litestar.response import Stream

from app.auth.security import NO_AUTH
from app.openapi_errors import error_responses
from app.runs.frames import event_frame
from app.runs.http import SSE_MEDIA_TYPE, sse_response
from app.runs.store import event_type_of
from orchestrator.events import (
    AgentResponse,
    AgentResponseData,
    AgentThinking,
    AgentThinkingData,
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

__all__ = ["DEMO_INTERVAL_S", "demo_events", "test_stream"]

DEMO_INTERVAL_S = 0.3
_RUN = "demo"
_QUESTION = "What is the footprint of 1,000 kWh of electricity in Ireland?"
_REPORT = (
    "## Demo report\n\n1,000 kWh at 300 g CO2e/kWh is **300 kg CO2e**.\n\n"
    "_This is a demo stream: the numbers are illustrative, not computed._"
)


def demo_events() -> list[Event]:
    """The demo run: ``started`` → thinking → tool → response → ``completed`` → ``error``."""
    plan = [PlanStepRef(kind="carbon", task="Compute the footprint of 1,000 kWh")]

    return [
        Started(
            run_id=_RUN,
            seq=1,
            timestamp=utc_timestamp(),
            agent_name="system",
            message="Run started",
            data=StartedData(run_id=_RUN, conversation_id=None, question=_QUESTION),
        ),
        AgentThinking(
            run_id=_RUN,
            seq=2,
            timestamp=utc_timestamp(),
            agent_name="Planner",
            message="Planning the answer",
            data=AgentThinkingData(progress=10, state="planning", plan=plan),
        ),
        ToolExecution(
            run_id=_RUN,
            seq=3,
            timestamp=utc_timestamp(),
            agent_name="Carbon",
            message="Tool estimate_footprint finished",
            data=ToolExecutionData(
                progress=40,
                step="carbon",
                call_id="call_demo",
                tool="estimate_footprint",
                status="finished",
                arguments={"activity": "electricity", "amount": 1000, "unit": "kWh"},
                duration_ms=1.2,
                result_summary="300 kg CO2e",
            ),
        ),
        AgentResponse(
            run_id=_RUN,
            seq=4,
            timestamp=utc_timestamp(),
            agent_name="Carbon",
            message="Carbon step finished",
            data=AgentResponseData(
                progress=80,
                step="carbon",
                step_index=0,
                output="1,000 kWh is about 300 kg CO2e.",
                usage=StepUsage(),
                duration_ms=3.0,
            ),
        ),
        Completed(
            run_id=_RUN,
            seq=5,
            timestamp=utc_timestamp(),
            agent_name="Report",
            message="Report ready",
            data=CompletedData(
                full_content=_REPORT,
                final_response=_REPORT,
                plan=plan,
                usage=RunUsage(energy_basis="none"),  # a demo: nothing was computed
                sources=[DataSourceRef(name="demo", kind="grid_intensity", synthetic=True)],
                duration_ms=1500.0,
            ),
        ),
        ErrorEvent(
            run_id=_RUN,
            seq=6,
            timestamp=utc_timestamp(),
            agent_name="system",
            message="Demo of an error event",
            data=ErrorData(
                progress=100,
                code="demo",
                error="This is what an error event looks like; real runs send either "
                "completed or error, not both.",
            ),
        ),
    ]


async def _frames() -> AsyncGenerator[bytes, None]:
    for index, event in enumerate(demo_events()):
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
    responses=error_responses(),
)
def test_stream() -> Stream:
    """A short demo SSE stream of every event type (no auth, no LLM)."""
    return sse_response(_frames())
