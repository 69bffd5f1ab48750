"""Tracing through the whole app: request span → run span → steps, stream links, log ids.

The test installs an SDK tracer provider with an in-memory exporter as the host's (the app
uses a provider it finds instead of making its own), turns ``[telemetry] tracing`` on, and
runs real requests through the test client (offline engine). The OTLP export of the real
service is tested in ``tests/app/runs/test_otlp_export.py``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from sqlalchemy import select

from app.db.engine import Database
from app.logging import configure_logging
from app.main import create_app
from app.runs.models import Run
from app.settings import Settings, TelemetrySettings
from tests.support.otel import SpanNode, global_tracer_provider, span_tree
from tests.support.sse import parse_sse
from tests.support.webauthn import signed_in_user

QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with global_tracer_provider() as exporter:
        yield exporter


def _traced(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings,
        telemetry=TelemetrySettings(tracing=True),
        logging=msgspec.structs.replace(settings.logging, level="INFO"),
    )


def _find(roots: list[SpanNode], name: str) -> SpanNode:
    found = [node for root in roots for node in root.walk() if node.name == name]
    assert len(found) == 1, [node.name for root in roots for node in root.walk()]
    return found[0]


async def _trace_parent(settings: Settings, run_id: str) -> str | None:
    database = Database(settings.database)
    try:
        async with database.session_maker() as session:
            value: str | None = await session.scalar(
                select(Run.trace_parent).where(Run.id == run_id)
            )
            return value
    finally:
        await database.dispose()


async def test_a_streamed_run_is_a_child_of_its_request_and_a_replay_links_to_it(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    settings = _traced(settings)
    app = create_app(settings)
    logs = io.StringIO()
    configure_logging(settings.logging, stream=logs)
    async with AsyncTestClient(app) as client:
        user = await signed_in_user(client, "trace@example.org")
        streamed = await client.post(
            "/ask-stream", json={"question": QUESTION}, headers=user.headers
        )
        assert streamed.status_code == 200, streamed.text
        run_id = streamed.headers["x-run-id"]
        frames = [frame for frame in parse_sse(streamed.text) if frame.id is not None]
        assert frames[-1].event == "completed"
        replay = await client.get(
            f"/runs/{run_id}/events", headers={**user.headers, "Last-Event-ID": "2"}
        )
        assert replay.status_code == 200
        replayed = [frame for frame in parse_sse(replay.text) if frame.id is not None]
        assert [frame.id for frame in replayed] == [frame.id for frame in frames[2:]]

    roots = span_tree(spans.get_finished_spans())
    request = _find(roots, "POST /ask-stream")
    assert request.span.kind is SpanKind.SERVER
    assert request.span.parent is None
    assert dict(request.span.attributes or {})["http.route"] == "/ask-stream"
    run = _find(roots, "invoke_agent orchestrator")
    assert run.span.parent is not None
    assert run.span.parent.span_id == request.span.context.span_id
    assert run.span.context.trace_id == request.span.context.trace_id
    assert dict(run.span.attributes or {})["orchestrator.run.id"] == run_id
    assert run.names()[0] == "step planner"
    assert all(name.startswith("step ") for name in run.names())

    # The run row keeps the run span's traceparent; the replay's span links to it.
    trace_parent = await _trace_parent(settings, run_id)
    assert trace_parent is not None
    assert trace_parent.split("-")[1:3] == [
        format_trace_id(run.span.context.trace_id),
        format_span_id(run.span.context.span_id),
    ]
    stream = _find(roots, "GET /runs/{run_id}/events")
    assert stream.span.parent is None  # its own trace, linked to the run's
    assert stream.children == []  # no span per frame
    attributes = dict(stream.span.attributes or {})
    assert attributes["orchestrator.run.id"] == run_id
    assert attributes["orchestrator.stream.after"] == 2
    assert attributes["orchestrator.stream.frames"] == len(replayed)
    (link,) = stream.span.links
    assert link.context.trace_id == run.span.context.trace_id
    assert link.context.span_id == run.span.context.span_id

    # Log lines: the access line and the run's lines carry the ids of their spans.
    lines: list[dict[str, Any]] = [json.loads(line) for line in logs.getvalue().splitlines()]
    request_trace = format_trace_id(request.span.context.trace_id)
    (access,) = [
        line for line in lines if line["event"] == "request" and line["path"] == "/ask-stream"
    ]
    assert access["trace_id"] == request_trace
    assert access["span_id"] == format_span_id(request.span.context.span_id)
    (started,) = [line for line in lines if line["event"] == "run.started"]
    assert started["trace_id"] == request_trace
    transitions = [line for line in lines if line["event"] == "run.transition"]
    assert transitions
    assert {line["trace_id"] for line in transitions} == {request_trace}
    step_spans = {format_span_id(node.span.context.span_id) for node in run.children}
    assert {line["span_id"] for line in transitions} <= step_spans | {
        format_span_id(run.span.context.span_id)
    }
    # Lines outside any request (start-up) have none.
    assert all("trace_id" not in line for line in lines if line["event"] == "worker starting")


async def test_tracing_off_makes_no_span_and_stores_no_trace(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    app = create_app(settings)  # [telemetry] tracing = false, though a provider exists
    async with AsyncTestClient(app) as client:
        user = await signed_in_user(client, "off@example.org")
        streamed = await client.post(
            "/ask-stream", json={"question": QUESTION}, headers=user.headers
        )
        assert streamed.status_code == 200
        run_id = streamed.headers["x-run-id"]
    names = {span.name for span in spans.get_finished_spans()}
    assert not any(name.startswith(("POST ", "GET ")) for name in names)
    # The library still traces for the host that configured a provider, inside no request.
    (run,) = [span for span in spans.get_finished_spans() if span.name.startswith("invoke_")]
    assert run.parent is None
    assert await _trace_parent(settings, run_id) is not None
