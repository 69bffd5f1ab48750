"""The real service exports one ``/ask-stream`` run's trace over OTLP/HTTP.

``python -m app`` (granian) runs with ``[telemetry] tracing`` on and the standard ``OTEL_*``
variables pointing at a receiver in this test: a small HTTP server that decodes each
``ExportTraceServiceRequest`` with ``opentelemetry-proto`` (the exporter's own dependency).
The model is the real ``openai`` SDK against the fake OpenAI server, so the LLM calls have
real token counts. The tree must be request → run → steps → LLM and tool calls, with the
GenAI attributes, and tokens that add up to the usage of the run's ``completed`` event; a
replay of the stream links to the run's span, and the server's log lines carry the ids.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.fakes.openai_server import Call, FakeOpenAI, Turn, serve_in_thread
from tests.live_server import LiveServer, run_app
from tests.support.sse import parse_sse

pytestmark = pytest.mark.server

QUESTION = "When is the Irish grid cleanest today, and what does it mean for our report?"
SERVICE = "sca-trace-test"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    items: list[KeyValue] = list(pairs)
    return {pair.key: _value(pair.value) for pair in items}


class _Received:
    """Spans the receiver decoded, as plain dicts (ids in hex)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests = 0
        self.lock = threading.Lock()

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        decoded: list[dict[str, Any]] = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                span: Span
                for span in scope_spans.spans:
                    decoded.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex() or None,
                            "kind": span.kind,
                            "attributes": _attributes(span.attributes),
                            "links": [
                                (link.trace_id.hex(), link.span_id.hex()) for link in span.links
                            ],
                            "status": span.status.code,
                            "scope": scope_spans.scope.name,
                            "service": resource.get("service.name"),
                        }
                    )
        with self.lock:
            self.spans += decoded
            self.requests += 1

    def named(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [span for span in self.spans if span["name"] == name]


@pytest.fixture
def receiver() -> Iterator[tuple[str, _Received]]:
    received = _Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces" or (
                self.headers.get("Content-Type") != "application/x-protobuf"
            ):
                self.send_response(404)
                self.end_headers()
                return
            received.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what arrived, not the access log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _script(fake: FakeOpenAI) -> None:
    today = datetime.now(UTC).date().isoformat()
    plan = {
        "steps": [
            {"kind": "carbon", "task": "Find today's grid intensity in Ireland."},
            {"kind": "report", "task": "Write the report."},
        ],
        "notes": None,
    }
    args = json.dumps({"region": "ie", "start_date": today, "end_date": today})
    fake.script(
        Turn(text=json.dumps(plan)),
        Turn(tool_calls=(Call("grid_intensity", args),)),
        Turn(text="Carbon: the grid is cleanest overnight (synthetic data)."),
        Turn(text="# Grid report\n\nRun flexible load overnight."),
    )


def _wait_for(received: _Received, *names: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(received.named(name) for name in names):
            return
        time.sleep(0.1)
    raise AssertionError(f"spans {names} not exported; got {[s['name'] for s in received.spans]}")


def _children(spans: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [span for span in spans if span["parent"] == parent["span_id"]]


def test_one_ask_stream_run_exports_its_span_tree_over_otlp_http(
    tmp_path: Path,
    live_server: Callable[..., LiveServer],
    receiver: tuple[str, _Received],
) -> None:
    endpoint, received = receiver
    fake = FakeOpenAI()
    _script(fake)
    url = f"sqlite+aiosqlite:///{tmp_path / 'otlp.db'}"
    with serve_in_thread(fake) as fake_url:
        server = live_server(
            env={
                "DATABASE_URL": url,
                "APP__TELEMETRY__TRACING": "true",
                "APP__LOGGING__LEVEL": "INFO",
                "APP__LLM__PROVIDER": "openai",
                "OPENAI_API_KEY": "sk-otlp-test",
                "OPENAI_BASE_URL": f"{fake_url}/v1",
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_SERVICE_NAME": SERVICE,
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            }
        )
        created = run_app("token", "create", "trace@example.org", env={"DATABASE_URL": url})
        assert created.returncode == 0, created.stderr
        headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
        with httpx.Client(base_url=server.base_url, timeout=60, trust_env=False) as client:
            response = client.post("/ask-stream", json={"question": QUESTION}, headers=headers)
            assert response.status_code == 200, response.text
            run_id = response.headers["x-run-id"]
            frames = [frame for frame in parse_sse(response.text) if frame.id is not None]
            assert frames[-1].event == "completed", frames[-1].data
            usage = frames[-1].event_body["data"]["usage"]
            replay = client.get(f"/runs/{run_id}/events", headers={**headers, "Last-Event-ID": "1"})
            assert replay.status_code == 200
        _wait_for(
            received, "invoke_agent orchestrator", "GET /runs/{run_id}/events", "POST /ask-stream"
        )

    spans = received.spans
    (request,) = received.named("POST /ask-stream")
    assert request["kind"] == Span.SPAN_KIND_SERVER
    assert request["parent"] is None
    assert request["service"] == SERVICE
    assert request["attributes"]["http.route"] == "/ask-stream"
    trace = [span for span in spans if span["trace_id"] == request["trace_id"]]

    (run,) = _children(trace, request)
    assert run["name"] == "invoke_agent orchestrator"
    assert run["scope"] == "orchestrator"
    assert run["attributes"]["orchestrator.run.id"] == run_id
    assert run["attributes"]["gen_ai.provider.name"] == "openai"
    assert run["attributes"]["orchestrator.run.status"] == "completed"
    steps = _children(trace, run)
    assert [step["name"] for step in steps] == ["step planner", "step carbon", "step report"]
    planner, carbon, report = steps
    assert [span["name"] for span in _children(trace, planner)] == ["chat gpt-4.1-mini"]
    assert [span["name"] for span in _children(trace, carbon)] == [
        "chat gpt-4.1-mini",
        "execute_tool grid_intensity",
        "chat gpt-4.1-mini",
    ]
    assert [span["name"] for span in _children(trace, report)] == ["chat gpt-4.1-mini"]
    tool = _children(trace, carbon)[1]["attributes"]
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "grid_intensity"
    assert "error.type" not in tool

    chats = [span for span in trace if span["name"].startswith("chat ")]
    assert len(chats) == usage["llm_calls"] == 4
    for chat in chats:
        attributes = chat["attributes"]
        assert chat["kind"] == Span.SPAN_KIND_CLIENT
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == "openai"
        assert attributes["gen_ai.request.model"] == "gpt-4.1-mini"
        assert attributes["gen_ai.response.model"]
        assert attributes["gen_ai.response.id"]
        assert "gen_ai.input.messages" not in attributes  # content capture is off
    for key in ("input_tokens", "output_tokens"):
        total = sum(chat["attributes"][f"gen_ai.usage.{key}"] for chat in chats)
        assert total == usage[key] > 0
        assert run["attributes"][f"gen_ai.usage.{key}"] == usage[key]

    # GET /runs/{id}/events (a reconnect): its own trace, with a link to the run's span.
    (stream,) = received.named("GET /runs/{run_id}/events")
    assert stream["parent"] is None
    assert stream["trace_id"] != run["trace_id"]
    assert stream["links"] == [(run["trace_id"], run["span_id"])]
    assert stream["attributes"]["orchestrator.stream.frames"] == len(frames) - 1

    # The server's log lines of the run carry its trace and the span they were written in.
    lines = [
        json.loads(line)
        for line in server.log_text().splitlines()
        if line.startswith("{") and '"run_id"' in line
    ]
    transitions = [line for line in lines if line.get("event") == "run.transition"]
    assert transitions
    assert {line["trace_id"] for line in transitions} == {request["trace_id"]}
    assert {line["span_id"] for line in transitions} <= {span["span_id"] for span in [run, *steps]}


def test_spans_still_queued_are_exported_when_the_server_stops(
    tmp_path: Path,
    live_server: Callable[..., LiveServer],
    receiver: tuple[str, _Received],
) -> None:
    endpoint, received = receiver
    server = live_server(
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'flush.db'}",
            "APP__TELEMETRY__TRACING": "true",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "600000",  # ten minutes: only the shutdown flushes
        }
    )
    with httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        assert client.get("/health").status_code == 200
    time.sleep(0.5)
    assert received.named("GET /health") == []
    assert server.stop() == 0
    spans = received.named("GET /health")  # ours and the start-up readiness checks
    assert spans
    health = spans[-1]
    assert health["kind"] == Span.SPAN_KIND_SERVER
    assert health["service"] == "sustainable-city-ai"
