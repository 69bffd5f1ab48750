"""The orchestrator's OpenTelemetry spans, as an embedder that configured the SDK sees them.

Runs go through the offline engine and through the real ``openai`` SDK against the fake
server over HTTP; the SDK's in-memory exporter collects the spans. Without a tracer provider
the library makes no span at all (the run's events see no current span).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from orchestrator import Orchestrator, OrchestratorSettings, RunResult
from orchestrator.config import BudgetConfig, LLMConfig
from orchestrator.events import Completed, Event, ToolExecution
from orchestrator.providers.openai_chat import OpenAIChatProvider
from orchestrator.providers.openai_responses import OpenAIResponsesProvider
from orchestrator.telemetry import (
    CAPTURE_CONTENT_ENV,
    add_trace_context,
    current_traceparent,
    set_capture_content,
    tracing_enabled,
)
from tests.fakes.openai_server import Call, FakeOpenAI, Turn
from tests.support.otel import SpanNode, global_tracer_provider, span_tree

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
QUESTION = "When is the Irish grid cleanest today, and what does it mean for our report?"
PLAN = json.dumps(
    {
        "steps": [
            {"kind": "carbon", "task": "Find today's grid intensity in Ireland."},
            {"kind": "report", "task": "Write the report."},
        ],
        "notes": None,
    }
)
GRID_ARGS = '{"region": "ie", "start_date": "2026-11-26", "end_date": "2026-11-26"}'
BUDGETS = BudgetConfig(retry_backoff_s=0.01, provider_retries=1, step_timeout_s=20)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with global_tracer_provider() as exporter:
        yield exporter


@pytest.fixture(autouse=True)
def _content_capture_from_env() -> Iterator[None]:
    set_capture_content(None)
    yield
    set_capture_content(None)


def _one_tree(exporter: InMemorySpanExporter) -> SpanNode:
    (root,) = span_tree(exporter.get_finished_spans())
    return root


def _attrs(node: SpanNode) -> dict[str, Any]:
    return dict(node.span.attributes or {})


async def _offline(question: str) -> RunResult:
    orchestrator = Orchestrator.from_settings(OrchestratorSettings())
    try:
        return await orchestrator.ask(question)
    finally:
        await orchestrator.aclose()


async def test_offline_run_is_one_tree_of_run_steps_llm_and_tool_calls(
    spans: InMemorySpanExporter,
) -> None:
    result = await _offline("When is the grid cleanest tomorrow in Ireland?")
    assert result.status == "completed"
    assert result.plan is not None

    root = _one_tree(spans)
    assert root.name == "invoke_agent orchestrator"
    run = _attrs(root)
    assert run["gen_ai.operation.name"] == "invoke_agent"
    assert run["gen_ai.provider.name"] == "offline"
    assert run["orchestrator.run.id"] == result.run_id
    assert run["orchestrator.run.status"] == "completed"
    assert run["orchestrator.usage.messages"] == result.usage.messages
    kinds = [step.kind for step in result.plan.steps]
    assert root.names() == ["step planner", *(f"step {kind}" for kind in kinds)]

    planner = root.children[0]
    assert planner.names() == ["chat gpt-4.1-mini"]
    chat = _attrs(planner.children[0])
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == "offline"
    assert chat["gen_ai.request.model"] == "gpt-4.1-mini"
    assert chat["gen_ai.response.model"] == "offline-engine"
    assert chat["gen_ai.output.type"] == "json"
    assert planner.children[0].span.kind is SpanKind.CLIENT

    carbon = root.children[1]
    tool_spans = [node for node in carbon.children if node.name.startswith("execute_tool ")]
    assert "execute_tool grid_best_window" in [node.name for node in tool_spans]
    called = [
        (_attrs(node)["gen_ai.tool.name"], _attrs(node)["gen_ai.tool.call.id"])
        for node in tool_spans
    ]
    announced = [
        (e.data.tool, e.data.call_id)
        for e in result.events
        if isinstance(e, ToolExecution) and e.data.status == "started" and e.data.step == "carbon"
    ]
    assert called == announced
    # Every span of the run is in one trace, and every child lies inside its parent.
    assert {node.span.context.trace_id for node in root.walk()} == {root.span.context.trace_id}
    for node in root.walk():
        for child in node.children:
            assert node.start <= child.start
            assert child.end <= node.end
    # No content unless asked for.
    assert not any("gen_ai.input.messages" in _attrs(node) for node in root.walk())


def _provider(kind: str, base_url: str) -> OpenAIResponsesProvider | OpenAIChatProvider:
    config = LLMConfig(provider=kind, base_url=f"{base_url}/v1", api_key="sk-trace")  # type: ignore[arg-type]
    if kind == "openai":
        return OpenAIResponsesProvider(config)
    return OpenAIChatProvider(config)


async def _ask_fake(kind: str, base_url: str) -> RunResult:
    orchestrator = Orchestrator(_provider(kind, base_url), budgets=BUDGETS, clock=lambda: NOW)
    try:
        return await orchestrator.ask(QUESTION)
    finally:
        await orchestrator.aclose()


@pytest.mark.parametrize("kind", ["openai", "openai_chat"])
async def test_llm_spans_through_the_openai_sdk_carry_genai_attributes_and_tokens(
    spans: InMemorySpanExporter, fake: tuple[FakeOpenAI, str], kind: str
) -> None:
    app, base_url = fake
    app.script(
        Turn(text=PLAN),
        Turn(tool_calls=(Call("grid_intensity", GRID_ARGS),), cached_tokens=3),
        Turn(text="Carbon: lowest overnight (synthetic data)."),
        Turn(text="# Report\n\nShift load overnight."),
    )
    result = await _ask_fake(kind, base_url)
    assert result.status == "completed"

    root = _one_tree(spans)
    assert root.names() == ["step planner", "step carbon", "step report"]
    carbon = root.children[1]
    assert carbon.names() == [
        "chat gpt-4.1-mini",
        "execute_tool grid_intensity",
        "chat gpt-4.1-mini",
    ]
    chats = [node for node in root.walk() if node.name.startswith("chat ")]
    assert len(chats) == result.usage.llm_calls == 4
    response_ids = []
    for node in chats:
        attrs = _attrs(node)
        assert attrs["gen_ai.provider.name"] == kind
        assert attrs["gen_ai.request.model"] == "gpt-4.1-mini"
        assert attrs["gen_ai.response.model"]
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        response_ids.append(attrs.get("gen_ai.response.id"))
        assert node.span.status.status_code is StatusCode.UNSET
    if kind == "openai":
        assert all(response_ids)
        assert len(set(response_ids)) == 4
    assert _attrs(carbon.children[0])["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert _attrs(carbon.children[0])["gen_ai.usage.cache_read.input_tokens"] == 3
    # The tokens of the spans add up to the run's usage, at every level.
    for level in (root, *root.children):
        calls = [node for node in level.walk() if node.name.startswith("chat ")]
        for key in ("input_tokens", "output_tokens"):
            assert _attrs(level)[f"gen_ai.usage.{key}"] == sum(
                _attrs(node)[f"gen_ai.usage.{key}"] for node in calls
            )
    assert _attrs(root)["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert _attrs(root)["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    tool = _attrs(carbon.children[1])
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.type"] == "function"
    assert "error.type" not in tool


async def test_failed_llm_call_and_run_say_the_error_type(
    spans: InMemorySpanExporter, fake: tuple[FakeOpenAI, str]
) -> None:
    app, base_url = fake
    app.script(Turn(status=401, error_message="bad key"))
    result = await _ask_fake("openai", base_url)
    assert result.status == "failed"
    assert result.error is not None
    root = _one_tree(spans)
    assert _attrs(root)["error.type"] == result.error.code
    assert root.span.status.status_code is StatusCode.ERROR
    planner = root.children[0]
    assert _attrs(planner)["error.type"] == result.error.code
    (chat,) = planner.children
    assert _attrs(chat)["error.type"] == result.error.code
    assert "gen_ai.response.model" not in _attrs(chat)


async def test_retried_llm_call_is_one_span_per_attempt(
    spans: InMemorySpanExporter, fake: tuple[FakeOpenAI, str]
) -> None:
    app, base_url = fake
    app.script(
        Turn(status=503, error_message="overloaded"),
        Turn(text=PLAN),
        Turn(tool_calls=(Call("grid_intensity", GRID_ARGS),)),
        Turn(text="Carbon."),
        Turn(text="# Report"),
    )
    result = await _ask_fake("openai_chat", base_url)
    assert result.status == "completed"
    planner = _one_tree(spans).children[0]
    first, second = planner.children
    assert _attrs(first)["error.type"] == "llm_unavailable"
    assert "error.type" not in _attrs(second)


async def test_failed_tool_call_span_has_error_type(
    spans: InMemorySpanExporter, fake: tuple[FakeOpenAI, str]
) -> None:
    app, base_url = fake
    app.script(
        Turn(text=PLAN),
        Turn(tool_calls=(Call("grid_intensity", '{"region": "atlantis"}'),)),
        Turn(text="Carbon: no data."),
        Turn(text="# Report"),
    )
    result = await _ask_fake("openai", base_url)
    assert result.status == "completed"
    carbon = _one_tree(spans).children[1]
    tool = carbon.children[1]
    assert tool.name == "execute_tool grid_intensity"
    assert _attrs(tool)["error.type"] == "tool_error"
    assert tool.span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("how", ["setting", "env"])
async def test_content_is_recorded_only_when_enabled(
    spans: InMemorySpanExporter,
    fake: tuple[FakeOpenAI, str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    if how == "setting":
        set_capture_content(True)
    else:
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    app, base_url = fake
    app.script(
        Turn(text=PLAN),
        Turn(tool_calls=(Call("grid_intensity", GRID_ARGS, "call_g"),)),
        Turn(text="Carbon: lowest overnight."),
        Turn(text="# Report"),
    )
    await _ask_fake("openai", base_url)
    root = _one_tree(spans)
    planner_chat = _attrs(root.children[0].children[0])
    (message,) = json.loads(planner_chat["gen_ai.input.messages"])
    assert message["role"] == "user"
    assert QUESTION in message["parts"][0]["content"]
    assert json.loads(planner_chat["gen_ai.output.messages"])[0]["parts"][0]["content"] == PLAN
    carbon = root.children[1]
    tool = _attrs(carbon.children[1])
    assert tool["gen_ai.tool.call.arguments"] == GRID_ARGS
    assert "intensity" in tool["gen_ai.tool.call.result"]
    # The second carbon call sends the tool's answer back: it is in that call's input.
    second = json.loads(_attrs(carbon.children[2])["gen_ai.input.messages"])
    assert {
        "type": "tool_call_response",
        "id": "call_g",
        "response": tool["gen_ai.tool.call.result"],
    } in [part for item in second for part in item["parts"]]


async def test_without_a_tracer_provider_no_span_is_made() -> None:
    assert not tracing_enabled()
    seen: list[bool] = []

    async def emit(event: Event) -> None:
        seen.append(trace.get_current_span().get_span_context().is_valid)

    orchestrator = Orchestrator.from_settings(OrchestratorSettings())
    try:
        result = await orchestrator.run("hello there", emit=emit)
    finally:
        await orchestrator.aclose()
    assert result.status == "completed"
    assert seen
    assert not any(seen)
    assert current_traceparent() is None


async def test_events_are_emitted_inside_the_run_span(spans: InMemorySpanExporter) -> None:
    parents: list[str | None] = []

    async def emit(event: Event) -> None:
        parents.append(current_traceparent())

    orchestrator = Orchestrator.from_settings(OrchestratorSettings())
    try:
        await orchestrator.run("hello there", emit=emit)
    finally:
        await orchestrator.aclose()
    root = _one_tree(spans)
    run_parent = (
        f"00-{format_trace_id(root.span.context.trace_id)}-"
        f"{format_span_id(root.span.context.span_id)}-{int(root.span.context.trace_flags):02x}"
    )
    # ``started`` comes from the run span itself (the service stores it for stream links).
    assert parents[0] == run_parent
    assert all(parent is not None for parent in parents)


@pytest.fixture
def traced_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """structlog lines after :func:`add_trace_context` (then restored)."""
    saved = structlog.get_config()
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[add_trace_context, capture], cache_logger_on_first_use=False)
    try:
        yield capture.entries
    finally:
        structlog.configure(**saved)


async def test_log_lines_inside_spans_carry_trace_and_span_ids(
    spans: InMemorySpanExporter, traced_logs: list[MutableMapping[str, Any]]
) -> None:
    result = await _offline("hello there")
    assert isinstance(result.events[-1], Completed)
    root = _one_tree(spans)
    trace_id = format_trace_id(root.span.context.trace_id)
    span_ids = {format_span_id(node.span.context.span_id): node.name for node in root.walk()}
    transitions = [line for line in traced_logs if line["event"] == "run.transition"]
    assert transitions
    assert {line["trace_id"] for line in transitions} == {trace_id}
    # Each line names the span it was written in: the step's while a step runs.
    where = [(line["state"], span_ids[line["span_id"]]) for line in transitions]
    assert ("planning", "step planner") in where
    assert where[-1] == ("completed", "invoke_agent orchestrator")


async def test_log_lines_outside_spans_have_no_trace_ids(
    traced_logs: list[MutableMapping[str, Any]],
) -> None:
    await _offline("hello there")
    transitions = [line for line in traced_logs if line["event"] == "run.transition"]
    assert transitions
    assert not any("trace_id" in line or "span_id" in line for line in transitions)
