"""The Responses API provider through the real SDK against the fake server over loopback HTTP."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import msgspec
import pytest
from structlog.testing import capture_logs

from orchestrator.assistants import AssistantSpec
from orchestrator.config import LLMConfig
from orchestrator.providers.base import (
    AuthenticationFailed,
    BadResponse,
    FunctionCall,
    FunctionCallOutput,
    ModelRequest,
    ModelTurn,
    OutputTruncated,
    ProviderError,
    ProviderEvent,
    ProviderItem,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    Refusal,
    TextDelta,
    ToolCallRequest,
    ToolSchema,
    UserMessage,
)
from orchestrator.providers.openai_responses import (
    OpenAIResponsesProvider,
    build_responses_body,
    responses_input,
)
from tests.fakes.openai_server import Call, FakeOpenAI, Turn, closed_port, raw_sse_app

KEY = "sk-test-secret-key-123"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"region": {"type": "string"}, "hours": {"type": "integer"}},
    "required": ["region", "hours"],
    "additionalProperties": False,
}
TOOL = ToolSchema(name="grid_intensity", description="Grid carbon intensity.", parameters=PARAMS)
SPEC = AssistantSpec(
    name="carbon",
    model="gpt-4.1-mini",
    instructions="You are the carbon analyst.",
    temperature=0.2,
    max_output_tokens=800,
)


def _request(*items: Any, **kwargs: Any) -> ModelRequest:
    return ModelRequest(
        assistant=kwargs.pop("assistant", SPEC),
        input=items or (UserMessage("When is the grid cleanest?"),),
        tools=kwargs.pop("tools", (TOOL,)),
        **kwargs,
    )


async def _collect(provider: OpenAIResponsesProvider, request: ModelRequest) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request)]


@pytest.fixture
async def provider(fake: tuple[FakeOpenAI, str]) -> AsyncIterator[OpenAIResponsesProvider]:
    config = LLMConfig(provider="openai", base_url=f"{fake[1]}/v1", api_key=KEY, read_timeout_s=2)
    instance = OpenAIResponsesProvider(config)
    yield instance
    await instance.aclose()


async def test_text_streams_deltas_then_one_turn_with_usage(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    text = "The cleanest window is 02:00-05:00 at 180 gCO2/kWh."
    app.script(Turn(text=text, cached_tokens=12, reasoning_tokens=5))
    events = await _collect(provider, _request())
    deltas = [e for e in events[:-1] if isinstance(e, TextDelta)]
    assert len(deltas) == len(events) - 1 > 1
    assert "".join(d.text for d in deltas) == text
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.text == text
    assert turn.tool_calls == ()
    assert turn.usage.cached_tokens == 12
    assert turn.usage.reasoning_tokens == 5
    assert turn.usage.input_tokens > 0
    assert turn.usage.output_tokens > 0
    assert turn.response_id is not None
    assert turn.response_id.startswith("resp_")
    assert turn.model == "gpt-4.1-mini"


async def test_calls_reuse_one_keep_alive_connection(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    # The stream tail is drained before the turn is handed over, even though the consumer
    # closes the generator right after the ModelTurn (as the state machine does).
    app, _ = fake
    app.script(Turn(text="one"), Turn(tool_calls=(Call("grid_intensity", "{}"),)), Turn(text="3"))
    for _ in range(3):
        async with aclosing(provider.stream(_request())) as events:
            async for event in events:
                if isinstance(event, ModelTurn):
                    break
    assert len(app.requests) == 3
    assert app.connections == 1


async def test_request_body_carries_the_assistant_and_strict_tools(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    app.script(Turn(text="ok"))
    await _collect(provider, _request())
    (body,) = app.bodies("/v1/responses")
    assert body["model"] == "gpt-4.1-mini"
    assert body["instructions"] == "You are the carbon analyst."
    assert body["stream"] is True
    assert body["store"] is False  # stateless by default
    assert "previous_response_id" not in body
    assert body["temperature"] == 0.2
    assert body["max_output_tokens"] == 800
    assert body["tool_choice"] == "auto"
    assert body["tools"] == [
        {
            "type": "function",
            "name": "grid_intensity",
            "description": "Grid carbon intensity.",
            "parameters": PARAMS,
            "strict": True,
        }
    ]
    assert body["input"] == [
        {"type": "message", "role": "user", "content": "When is the grid cleanest?"}
    ]
    headers = app.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"


async def test_hosted_code_interpreter_and_structured_output(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    schema = {
        "type": "object",
        "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
        "required": ["steps"],
        "additionalProperties": False,
    }
    app.script(Turn(text='{"steps": ["carbon"]}'))
    spec = msgspec.structs.replace(SPEC, hosted_tools=("code_interpreter", "no_such_hosted"))
    events = await _collect(
        provider,
        _request(assistant=spec, tools=(), response_schema=schema, response_schema_name="plan"),
    )
    assert isinstance(events[-1], ModelTurn)
    assert events[-1].text == '{"steps": ["carbon"]}'
    (body,) = app.bodies("/v1/responses")
    assert body["tools"] == [{"type": "code_interpreter", "container": {"type": "auto"}}]
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "plan", "schema": schema, "strict": True}
    }


async def test_reasoning_models_get_no_temperature(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    app.script(Turn(text="ok"))
    await _collect(provider, _request(assistant=msgspec.structs.replace(SPEC, model="o4-mini")))
    assert "temperature" not in app.bodies("/v1/responses")[0]


async def test_tool_loop_sends_full_input_items_with_matching_call_id(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    args = '{"region": "IE", "hours": 24}'
    app.script(
        Turn(tool_calls=(Call("grid_intensity", args), Call("grid_intensity", args))),
        Turn(text="Done."),
    )
    first = await _collect(provider, _request())
    calls = [e for e in first if isinstance(e, ToolCallRequest)]
    turn = first[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.text == ""
    assert list(turn.tool_calls) == calls
    assert len(calls) == 2
    assert calls[0].call_id != calls[1].call_id
    assert all(c.name == "grid_intensity" and c.arguments == args for c in calls)

    history = (
        UserMessage("When is the grid cleanest?"),
        *(FunctionCall(c.call_id, c.name, c.arguments) for c in calls),
        *(FunctionCallOutput(c.call_id, '{"mean": 210}') for c in calls),
    )
    second = await _collect(provider, _request(*history))
    assert isinstance(second[-1], ModelTurn)
    assert second[-1].text == "Done."
    body = app.bodies("/v1/responses")[1]
    assert body["input"] == [
        {"type": "message", "role": "user", "content": "When is the grid cleanest?"},
        *(
            {"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": args}
            for c in calls
        ),
        *(
            {"type": "function_call_output", "call_id": c.call_id, "output": '{"mean": 210}'}
            for c in calls
        ),
    ]
    # The call ids we sent back are exactly the ones the server issued.
    issued = {item["call_id"] for item in body["input"] if item["type"] == "function_call"}
    assert issued == {c.call_id for c in calls}


async def test_previous_response_id_mode_sends_only_new_items(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    config = LLMConfig(
        provider="openai", base_url=f"{base_url}/v1", api_key=KEY, use_previous_response_id=True
    )
    provider = OpenAIResponsesProvider(config)
    try:
        app.script(Turn(text="ok"), Turn(text="ok"))
        history = (
            UserMessage("q"),
            FunctionCall("call_1", "grid_intensity", "{}"),
            FunctionCallOutput("call_1", '{"mean": 1}'),
        )
        await _collect(provider, _request(*history, previous_response_id="resp_prev"))
        await _collect(provider, _request(*history))  # no id yet: full input
    finally:
        await provider.aclose()
    stateful, full = app.bodies("/v1/responses")
    assert stateful["previous_response_id"] == "resp_prev"
    assert stateful["store"] is True
    assert stateful["input"] == [
        {"type": "function_call_output", "call_id": "call_1", "output": '{"mean": 1}'}
    ]
    assert "previous_response_id" not in full
    assert len(full["input"]) == 3


# ------------------------------------------------------------------- reasoning (stateless)

O4 = msgspec.structs.replace(SPEC, model="o4-mini")
GRID_ARGS = '{"region": "IE", "hours": 24}'
INCLUDE = ["reasoning.encrypted_content"]


async def test_reasoning_model_replays_its_encrypted_reasoning_before_the_call(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    app.script(
        Turn(
            reasoning="I need today's grid data.", tool_calls=(Call("grid_intensity", GRID_ARGS),)
        ),
        Turn(text="Cleanest at 03:00."),
    )
    turn = (await _collect(provider, _request(assistant=O4)))[-1]
    assert isinstance(turn, ModelTurn)
    (emitted,) = app.reasoning_items
    assert emitted["id"].startswith("rs_")
    assert emitted["encrypted_content"]  # the fake seals it only when asked to
    assert emitted["summary"] == [{"type": "summary_text", "text": "I need today's grid data."}]
    assert turn.replay_items == (ProviderItem("openai", emitted),)

    # What the machine sends next: the reasoning right before the call it led to.
    (call,) = turn.tool_calls
    history = (
        UserMessage("When is the grid cleanest?"),
        *turn.replay_items,
        FunctionCall(call.call_id, call.name, call.arguments),
        FunctionCallOutput(call.call_id, '{"mean": 210}'),
    )
    second = (await _collect(provider, _request(*history, assistant=O4)))[-1]
    assert isinstance(second, ModelTurn)
    assert second.text == "Cleanest at 03:00."
    assert second.replay_items == ()
    first_body, second_body = app.bodies("/v1/responses")
    assert first_body["include"] == INCLUDE
    assert first_body["store"] is False
    assert "temperature" not in first_body
    assert second_body["include"] == INCLUDE
    assert second_body["input"] == [
        {"type": "message", "role": "user", "content": "When is the grid cleanest?"},
        emitted,  # verbatim: same id, same encrypted_content, same summary
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": "grid_intensity",
            "arguments": GRID_ARGS,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"mean": 210}'},
    ]


async def test_non_reasoning_model_asks_for_no_reasoning_and_replays_none(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    # Whatever reasoning item such a server emits has no encrypted content (none was asked
    # for), and with store: false OpenAI could not resolve it by id: it is not replayed.
    app, _ = fake
    app.script(Turn(reasoning="thinking", tool_calls=(Call("grid_intensity", GRID_ARGS),)))
    turn = (await _collect(provider, _request()))[-1]
    assert isinstance(turn, ModelTurn)
    assert len(turn.tool_calls) == 1
    assert turn.replay_items == ()
    (body,) = app.bodies("/v1/responses")
    assert "include" not in body
    assert app.reasoning_items[0]["encrypted_content"] is None


async def test_stateful_mode_leaves_reasoning_on_the_server(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    config = LLMConfig(
        provider="openai", base_url=f"{base_url}/v1", api_key=KEY, use_previous_response_id=True
    )
    provider = OpenAIResponsesProvider(config)
    try:
        app.script(
            Turn(reasoning="plan", tool_calls=(Call("grid_intensity", GRID_ARGS),)),
            Turn(text="ok"),
        )
        first = (await _collect(provider, _request(assistant=O4)))[-1]
        assert isinstance(first, ModelTurn)
        assert first.replay_items == ()
        # Even handed replay items (as a library caller might), only the new items go out.
        (call,) = first.tool_calls
        history = (
            UserMessage("q"),
            ProviderItem("openai", {"type": "reasoning", "id": "rs_1", "summary": []}),
            FunctionCall(call.call_id, call.name, call.arguments),
            FunctionCallOutput(call.call_id, '{"mean": 1}'),
        )
        await _collect(
            provider, _request(*history, assistant=O4, previous_response_id=first.response_id)
        )
    finally:
        await provider.aclose()
    first_body, second_body = app.bodies("/v1/responses")
    assert first_body["store"] is True
    assert "include" not in first_body
    assert "include" not in second_body
    assert second_body["previous_response_id"] == first.response_id
    assert second_body["input"] == [
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"mean": 1}'}
    ]


def test_responses_input_sends_openai_items_verbatim_and_skips_other_providers() -> None:
    ours = {"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAA", "summary": []}
    items = (
        UserMessage("q"),
        ProviderItem("anthropic", {"type": "thinking", "thinking": "...", "signature": "s"}),
        ProviderItem("openai", ours),
        FunctionCall("call_1", "grid_intensity", "{}"),
        FunctionCallOutput("call_1", "{}"),
    )
    assert responses_input(items) == [
        {"type": "message", "role": "user", "content": "q"},
        ours,
        {"type": "function_call", "call_id": "call_1", "name": "grid_intensity", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    ]


def test_stateful_body_treats_a_replay_item_as_model_output() -> None:
    config = LLMConfig(provider="openai", api_key=KEY, use_previous_response_id=True)
    items = (
        UserMessage("q"),
        FunctionCall("call_1", "grid_intensity", "{}"),
        FunctionCallOutput("call_1", "{}"),
        ProviderItem("openai", {"type": "reasoning", "id": "rs_2", "summary": []}),
    )
    body = build_responses_body(_request(*items, previous_response_id="resp_1"), config)
    assert body["input"] == []
    stateless = build_responses_body(_request(*items), LLMConfig(provider="openai"))
    assert len(stateless["input"]) == 4
    assert "include" not in stateless  # gpt-4.1-mini is not a reasoning model


@pytest.mark.parametrize("model", ["o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini"])
def test_reasoning_families_ask_for_encrypted_reasoning(model: str) -> None:
    spec = msgspec.structs.replace(SPEC, model=model)
    body = build_responses_body(_request(assistant=spec), LLMConfig(provider="openai"))
    assert body["include"] == INCLUDE


async def test_malformed_and_unknown_tool_calls_are_passed_through_verbatim(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    # Judging arguments and tool names is the state machine's job (it answers the model).
    app, _ = fake
    app.script(Turn(tool_calls=(Call("no_such_tool", '{"region": '),)))
    turn = (await _collect(provider, _request()))[-1]
    assert isinstance(turn, ModelTurn)
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [("no_such_tool", '{"region": ')]


# ----------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("turn", "error", "code"),
    [
        (Turn(status=429, headers={"retry-after": "7"}), RateLimited, "llm_rate_limited"),
        (Turn(status=500), ProviderUnavailable, "llm_unavailable"),
        (Turn(status=502), ProviderUnavailable, "llm_unavailable"),
        (Turn(status=503), ProviderUnavailable, "llm_unavailable"),
        (Turn(status=400, error_message="bad schema"), BadResponse, "llm_bad_response"),
        (Turn(text="partial answer", fault="truncate"), ProviderUnavailable, "llm_unavailable"),
        (Turn(text="partial answer", fault="drop"), ProviderUnavailable, "llm_unavailable"),
        (Turn(text="x", failed="server_error"), ProviderUnavailable, "llm_unavailable"),
        (Turn(text="x", failed="invalid_prompt"), BadResponse, "llm_bad_response"),
        (Turn(text="x", incomplete="max_output_tokens"), OutputTruncated, "llm_output_truncated"),
        (Turn(text="x", incomplete="content_filter"), Refusal, "llm_refusal"),
        (Turn(refusal="I can't help with that."), Refusal, "llm_refusal"),
        (Turn(text=""), BadResponse, "llm_bad_response"),
    ],
    ids=[
        "429",
        "500",
        "502",
        "503",
        "400",
        "truncated",
        "dropped",
        "failed-server",
        "failed-other",
        "incomplete",
        "content-filter",
        "refusal",
        "empty",
    ],
)
async def test_faults_map_to_typed_errors_without_sdk_retries(
    fake: tuple[FakeOpenAI, str],
    provider: OpenAIResponsesProvider,
    turn: Turn,
    error: type[ProviderError],
    code: str,
) -> None:
    app, _ = fake
    app.script(turn, Turn(text="a retry would have succeeded"))
    with pytest.raises(error) as caught:
        await _collect(provider, _request())
    assert caught.value.code == code
    assert type(caught.value) is error
    # The config allows 2 SDK retries, but streamed calls are retried only by the machine.
    assert len(app.bodies("/v1/responses")) == 1
    assert app.pending == 1


async def test_rate_limit_carries_retry_after(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    app.script(Turn(status=429, headers={"retry-after": "7"}))
    with pytest.raises(RateLimited) as seconds:
        await _collect(provider, _request())
    assert seconds.value.retry_after == 7.0
    assert seconds.value.retryable
    app.script(Turn(status=429, headers={"retry-after-ms": "1500"}))
    with pytest.raises(RateLimited) as millis:
        await _collect(provider, _request())
    assert millis.value.retry_after == 1.5
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    app.script(Turn(status=429, headers={"retry-after": later}))
    with pytest.raises(RateLimited) as dated:
        await _collect(provider, _request())
    assert dated.value.retry_after is not None
    assert 25 <= dated.value.retry_after <= 30


async def test_partial_output_is_streamed_before_the_failure(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    app.script(Turn(text="a long answer that breaks off", fault="truncate", fault_after=5))
    seen: list[ProviderEvent] = []

    async def consume() -> None:
        async for event in provider.stream(_request()):
            seen.append(event)

    with pytest.raises(ProviderUnavailable, match=r"ended before response\.completed"):
        await consume()
    assert seen
    assert all(isinstance(e, TextDelta) for e in seen)


async def test_read_timeout_mid_stream(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    url = f"{base_url}/v1"
    config = LLMConfig(provider="openai", base_url=url, api_key=KEY, read_timeout_s=0.3)
    provider = OpenAIResponsesProvider(config)
    app.script(Turn(text="starts then stalls", fault="stall", stall_s=10))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeout) as caught:
            await _collect(provider, _request())
    finally:
        await provider.aclose()
    assert caught.value.code == "llm_timeout"
    assert time.monotonic() - started < 5


async def test_connection_refused() -> None:
    config = LLMConfig(
        provider="openai",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        api_key=KEY,
        connect_timeout_s=1,
    )
    provider = OpenAIResponsesProvider(config)
    try:
        with pytest.raises(ProviderUnavailable, match="cannot connect") as caught:
            await _collect(provider, _request())
    finally:
        await provider.aclose()
    assert caught.value.retryable


async def test_401_is_recorded_for_health_without_the_key(
    fake: tuple[FakeOpenAI, str], provider: OpenAIResponsesProvider
) -> None:
    app, _ = fake
    before = provider.last_auth_failure
    assert before is None
    app.script(Turn(status=401, error_message=f"Incorrect API key provided: {KEY}"))
    with pytest.raises(AuthenticationFailed) as caught:
        await _collect(provider, _request())
    assert not caught.value.retryable
    assert "401" in caught.value.message
    assert KEY not in caught.value.message
    failure = provider.last_auth_failure
    assert failure is not None
    assert "HTTP 401" in failure
    assert KEY not in failure
    assert len(app.bodies("/v1/responses")) == 1


async def test_the_key_never_reaches_the_logs(
    fake: tuple[FakeOpenAI, str],
    provider: OpenAIResponsesProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = fake
    caplog.set_level(logging.DEBUG)  # the SDK and the HTTP stack log requests at DEBUG
    app.script(Turn(text="fine"), Turn(status=401), Turn(status=429), Turn(status=500))
    with capture_logs() as structured:
        await _collect(provider, _request())
        for _ in range(3):
            with pytest.raises(ProviderError):
                await _collect(provider, _request())
    assert "openai" in caplog.text  # the SDK's debug logging was captured
    assert KEY not in caplog.text
    assert KEY not in repr(structured)


async def test_missing_key_says_so(
    fake: tuple[FakeOpenAI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, base_url = fake
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = OpenAIResponsesProvider(LLMConfig(provider="openai", base_url=f"{base_url}/v1"))
    app.script(Turn(status=401))
    try:
        with pytest.raises(AuthenticationFailed, match="OPENAI_API_KEY"):
            await _collect(provider, _request())
    finally:
        await provider.aclose()


# ------------------------------------------------- lenient servers (raw bytes, in-process)


async def _raw_stream(body: bytes, request: ModelRequest | None = None) -> list[ProviderEvent]:
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=raw_sse_app(body)))
    config = LLMConfig(provider="openai", base_url="http://fake/v1", api_key=KEY)
    provider = OpenAIResponsesProvider(config, http_client=client)
    try:
        return await _collect(provider, request or _request())
    finally:
        await provider.aclose()


async def test_events_without_event_lines_are_read_from_their_type() -> None:
    # Some compatible servers send only ``data:`` lines; the type is inside the JSON.
    body = (
        b'data: {"type":"response.output_text.delta","delta":"Hel"}\n\n'
        b'data: {"type":"response.output_text.delta","delta":"lo"}\n\n'
        b'data: {"type":"response.output_item.added","output_index":1,'
        b'"item":{"type":"function_call","call_id":"c1","name":"grid_intensity"}}\n\n'
        b'data: {"type":"response.function_call_arguments.delta","output_index":1,"delta":"{}"}\n\n'
        b'data: {"type":"response.completed","response":{"id":"r1","usage":null}}\n\n'
    )
    events = await _raw_stream(body)
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.text == "Hello"
    assert turn.tool_calls == (ToolCallRequest("c1", "grid_intensity", "{}"),)
    assert turn.response_id == "r1"


async def test_malformed_event_json_is_a_bad_response() -> None:
    body = b"event: response.output_text.delta\ndata: {not json\n\n"
    with pytest.raises(BadResponse, match="malformed"):
        await _raw_stream(body)


async def test_error_event_is_mapped() -> None:
    body = b'event: error\ndata: {"type":"error","code":"rate_limit_exceeded","message":"slow"}\n\n'
    with pytest.raises(RateLimited, match="slow"):
        await _raw_stream(body)


def _rs(name: str, *, sealed: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning", "id": name, "summary": []}
    item["encrypted_content"] = f"gAAA-{name}" if sealed else None
    return item


def _fc(name: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": name, "name": "grid_intensity", "arguments": "{}"}


MESSAGE = {"type": "message", "content": [{"type": "output_text", "text": "Checking."}]}
HOSTED = {"type": "code_interpreter_call", "id": "ci_1", "code": "1+1"}


def _output_items(*items: dict[str, Any]) -> bytes:
    """A completed response streamed as one output_item.done per item, in order."""
    frames = [
        b"event: response.output_item.done\ndata: "
        + msgspec.json.encode({"type": "response.output_item.done", "output_index": i, "item": it})
        + b"\n\n"
        for i, it in enumerate(items)
    ]
    done = b'{"type":"response.completed","response":{"id":"r1","usage":null}}'
    return b"".join(frames) + b"event: response.completed\ndata: " + done + b"\n\n"


def _replayed(events: list[ProviderEvent]) -> list[str]:
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert all(item.provider == "openai" for item in turn.replay_items)
    return [item.payload["id"] for item in turn.replay_items]


@pytest.mark.parametrize(
    ("output", "replayed"),
    [
        ((_rs("rs_a"), MESSAGE, _fc("c1")), ["rs_a"]),  # the text is replayed before it
        ((_rs("rs_a"), _fc("c1"), _rs("rs_b"), _fc("c2")), ["rs_a"]),  # would move before c1
        ((_rs("rs_a"), HOSTED, _rs("rs_b"), _fc("c1")), ["rs_b"]),  # hosted calls: not replayed
        ((_rs("rs_a", sealed=False), _fc("c1")), []),  # unusable with store: false
        ((_rs("rs_a"), MESSAGE), []),  # a final answer: nothing follows
    ],
    ids=["before-text-and-call", "after-a-call", "before-hosted-call", "unsealed", "no-call"],
)
async def test_only_reasoning_that_led_to_a_function_call_is_replayed(
    output: tuple[dict[str, Any], ...], replayed: list[str]
) -> None:
    events = await _raw_stream(_output_items(*output), _request(assistant=O4))
    assert _replayed(events) == replayed


async def test_reasoning_is_not_kept_when_it_was_not_asked_for() -> None:
    # A server that seals reasoning for a model we do not treat as a reasoning model: we did
    # not ask, so we do not send it back (a compatible server may not accept it as input).
    events = await _raw_stream(_output_items(_rs("rs_a"), _fc("c1")))
    assert _replayed(events) == []
