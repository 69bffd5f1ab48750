"""The Chat Completions provider through the real SDK against the fake server over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx2
import msgspec
import pytest
from structlog.testing import capture_logs

from orchestrator.assistants import AssistantSpec
from orchestrator.config import LLMConfig
from orchestrator.providers.base import (
    AssistantMessage,
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
from orchestrator.providers.openai_chat import OpenAIChatProvider
from tests.fakes.openai_server import Call, FakeOpenAI, Turn, closed_port, raw_sse_app

KEY = "sk-chat-secret-456"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"activity": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["activity", "amount"],
    "additionalProperties": False,
}
TOOL = ToolSchema("carbon_footprint", "Footprint of activities.", PARAMS)
SPEC = AssistantSpec(
    name="carbon", model="llama3.1:8b", instructions="You are the carbon analyst.", temperature=0.1
)


def _request(*items: Any, **kwargs: Any) -> ModelRequest:
    return ModelRequest(
        assistant=kwargs.pop("assistant", SPEC),
        input=items or (UserMessage("Footprint of 100 km by car?"),),
        tools=kwargs.pop("tools", (TOOL,)),
        **kwargs,
    )


async def _collect(provider: OpenAIChatProvider, request: ModelRequest) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request)]


@pytest.fixture
async def provider(fake: tuple[FakeOpenAI, str]) -> AsyncIterator[OpenAIChatProvider]:
    config = LLMConfig(provider="openai_chat", base_url=f"{fake[1]}/v1", api_key=KEY)
    instance = OpenAIChatProvider(config)
    yield instance
    await instance.aclose()


async def test_text_streams_deltas_then_turn_with_usage(
    fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider
) -> None:
    app, _ = fake
    text = "Driving 100 km emits about 17 kg CO2e."
    app.script(Turn(text=text, cached_tokens=4, reasoning_tokens=2))
    events = await _collect(provider, _request())
    assert all(isinstance(e, TextDelta) for e in events[:-1])
    assert "".join(e.text for e in events[:-1] if isinstance(e, TextDelta)) == text
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.text == text
    assert turn.usage.cached_tokens == 4
    assert turn.usage.reasoning_tokens == 2
    assert turn.usage.input_tokens > 0
    assert turn.response_id is not None
    assert turn.response_id.startswith("chatcmpl_")


async def test_calls_reuse_one_keep_alive_connection(
    fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider
) -> None:
    app, _ = fake
    app.script(Turn(text="one"), Turn(tool_calls=(Call("carbon_footprint", "{}"),)), Turn(text="3"))
    for _ in range(3):
        async with aclosing(provider.stream(_request())) as events:
            async for event in events:
                if isinstance(event, ModelTurn):
                    break
    assert len(app.requests) == 3
    assert app.connections == 1


async def test_request_body(fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider) -> None:
    app, _ = fake
    app.script(Turn(text="ok"))
    spec = msgspec.structs.replace(SPEC, max_output_tokens=300)
    await _collect(provider, _request(assistant=spec))
    (body,) = app.bodies("/v1/chat/completions")
    assert body["model"] == "llama3.1:8b"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.1
    assert body["max_tokens"] == 300  # compatible servers understand max_tokens
    assert body["tool_choice"] == "auto"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "carbon_footprint",
                "description": "Footprint of activities.",
                "parameters": PARAMS,
                "strict": True,
            },
        }
    ]
    assert body["messages"] == [
        {"role": "system", "content": "You are the carbon analyst."},
        {"role": "user", "content": "Footprint of 100 km by car?"},
    ]
    assert "response_format" not in body
    assert app.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_structured_output_and_hosted_tools_are_ignored_with_a_warning(
    fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider
) -> None:
    app, _ = fake
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    app.script(Turn(text='{"ok": true}'))
    spec = msgspec.structs.replace(SPEC, hosted_tools=("code_interpreter",))
    request = _request(assistant=spec, tools=(), response_schema=schema, response_schema_name="p")
    with capture_logs() as logs:
        turn = (await _collect(provider, request))[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.text == '{"ok": true}'
    (body,) = app.bodies("/v1/chat/completions")
    assert "tools" not in body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "p", "schema": schema, "strict": True},
    }
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["hosted_tools"] == ["code_interpreter"]


async def test_tool_loop_builds_assistant_and_tool_messages(
    fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider
) -> None:
    app, _ = fake
    car = '{"activity": "car_km", "amount": 100}'
    train = '{"activity": "rail_km", "amount": 100}'
    app.script(
        Turn(tool_calls=(Call("carbon_footprint", car), Call("carbon_footprint", train))),
        Turn(text="Train is lower."),
    )
    first = await _collect(provider, _request())
    calls = [e for e in first if isinstance(e, ToolCallRequest)]
    turn = first[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == tuple(calls)
    assert [c.arguments for c in calls] == [car, train]
    assert len({c.call_id for c in calls}) == 2

    history = (
        UserMessage("Footprint of 100 km by car?"),
        *(FunctionCall(c.call_id, c.name, c.arguments) for c in calls),
        *(FunctionCallOutput(c.call_id, f'{{"kg": {n}}}') for n, c in enumerate(calls)),
        AssistantMessage("Train is lower."),
        UserMessage("And by bus?"),
    )
    await _collect(provider, _request(*history))
    messages = app.bodies("/v1/chat/completions")[1]["messages"]
    assert messages == [
        {"role": "system", "content": "You are the carbon analyst."},
        {"role": "user", "content": "Footprint of 100 km by car?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": "carbon_footprint", "arguments": c.arguments},
                }
                for c in calls
            ],
        },
        {"role": "tool", "tool_call_id": calls[0].call_id, "content": '{"kg": 0}'},
        {"role": "tool", "tool_call_id": calls[1].call_id, "content": '{"kg": 1}'},
        {"role": "assistant", "content": "Train is lower."},
        {"role": "user", "content": "And by bus?"},
    ]


async def test_replay_items_of_the_responses_api_are_left_out(
    fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider
) -> None:
    # Encrypted reasoning means nothing to Chat Completions; it must not split the calls.
    app, _ = fake
    app.script(Turn(text="ok"))
    reasoning = {"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAA", "summary": []}
    history = (
        UserMessage("Footprint of 100 km by car?"),
        AssistantMessage("Checking both."),
        ProviderItem("openai", reasoning),
        FunctionCall("call_1", "carbon_footprint", "{}"),
        ProviderItem("openai", reasoning),
        FunctionCall("call_2", "carbon_footprint", "{}"),
        FunctionCallOutput("call_1", "{}"),
        FunctionCallOutput("call_2", "{}"),
    )
    await _collect(provider, _request(*history))
    messages = app.bodies("/v1/chat/completions")[0]["messages"]
    assert "rs_1" not in repr(messages)
    assert [(m["role"], len(m.get("tool_calls") or ())) for m in messages] == [
        ("system", 0),
        ("user", 0),
        ("assistant", 0),
        ("assistant", 2),
        ("tool", 0),
        ("tool", 0),
    ]


@pytest.mark.parametrize(
    ("turn", "error", "code"),
    [
        (Turn(status=429, headers={"retry-after": "3"}), RateLimited, "llm_rate_limited"),
        (Turn(status=500), ProviderUnavailable, "llm_unavailable"),
        (Turn(status=502), ProviderUnavailable, "llm_unavailable"),
        (Turn(status=503), ProviderUnavailable, "llm_unavailable"),
        (Turn(status=401), AuthenticationFailed, "llm_auth_failed"),
        (Turn(text="partial answer", fault="truncate"), ProviderUnavailable, "llm_unavailable"),
        (Turn(text="partial answer", fault="drop"), ProviderUnavailable, "llm_unavailable"),
        (Turn(text="x", failed="server_error"), ProviderUnavailable, "llm_unavailable"),
        (Turn(text="x", incomplete="length"), OutputTruncated, "llm_output_truncated"),
        (Turn(text="x", incomplete="content_filter"), Refusal, "llm_refusal"),
        (Turn(refusal="I won't do that."), Refusal, "llm_refusal"),
        (Turn(text=""), BadResponse, "llm_bad_response"),
    ],
    ids=[
        "429",
        "500",
        "502",
        "503",
        "401",
        "truncated",
        "dropped",
        "error-chunk",
        "length",
        "content-filter",
        "refusal",
        "empty",
    ],
)
async def test_faults_map_to_typed_errors_without_sdk_retries(
    fake: tuple[FakeOpenAI, str],
    provider: OpenAIChatProvider,
    turn: Turn,
    error: type[ProviderError],
    code: str,
) -> None:
    app, _ = fake
    app.script(turn, Turn(text="a retry would have succeeded"))
    with pytest.raises(error) as caught:
        await _collect(provider, _request())
    assert type(caught.value) is error
    assert caught.value.code == code
    assert KEY not in caught.value.message
    assert len(app.bodies("/v1/chat/completions")) == 1


async def test_rate_limit_retry_after_and_auth_failure_record(
    fake: tuple[FakeOpenAI, str], provider: OpenAIChatProvider
) -> None:
    app, _ = fake
    app.script(Turn(status=429, headers={"retry-after": "3"}), Turn(status=403))
    with pytest.raises(RateLimited) as limited:
        await _collect(provider, _request())
    assert limited.value.retry_after == 3.0
    with pytest.raises(AuthenticationFailed):
        await _collect(provider, _request())
    failure = provider.last_auth_failure
    assert failure is not None
    assert "HTTP 403" in failure
    assert KEY not in failure


async def test_read_timeout_mid_stream(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    url = f"{base_url}/v1"
    provider = OpenAIChatProvider(
        LLMConfig(provider="openai_chat", base_url=url, api_key=KEY, read_timeout_s=0.3)
    )
    app.script(Turn(text="starts then stalls", fault="stall", stall_s=10))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeout):
            await _collect(provider, _request())
    finally:
        await provider.aclose()
    assert time.monotonic() - started < 5


async def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    provider = OpenAIChatProvider(
        LLMConfig(provider="openai_chat", base_url=url, api_key=KEY, connect_timeout_s=1)
    )
    try:
        with pytest.raises(ProviderUnavailable, match="cannot connect"):
            await _collect(provider, _request())
    finally:
        await provider.aclose()


async def test_azure_deployment_url_api_version_and_api_key_header(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    config = LLMConfig(
        provider="openai_chat",
        base_url=base_url,
        api_key=KEY,
        azure_deployment="gpt4o-prod",
        azure_api_version="2024-10-21",
    )
    provider = OpenAIChatProvider(config)
    app.script(Turn(text="hello from azure"))
    spec = msgspec.structs.replace(SPEC, max_output_tokens=50)
    try:
        turn = (await _collect(provider, _request(assistant=spec)))[-1]
    finally:
        await provider.aclose()
    assert isinstance(turn, ModelTurn)
    assert turn.text == "hello from azure"
    (recorded,) = app.requests
    assert recorded.path == "/openai/deployments/gpt4o-prod/chat/completions"
    assert recorded.query == "api-version=2024-10-21"
    assert recorded.headers["api-key"] == KEY
    assert "authorization" not in recorded.headers
    assert recorded.body["max_completion_tokens"] == 50


# -------------------------------------------------- lenient servers (raw bytes, in-process)


async def _raw_stream(body: bytes) -> list[ProviderEvent]:
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=raw_sse_app(body)))
    config = LLMConfig(provider="openai_chat", base_url="http://fake/v1", api_key=KEY)
    provider = OpenAIChatProvider(config, http_client=client)
    try:
        return await _collect(provider, _request())
    finally:
        await provider.aclose()


async def test_server_without_done_marker_or_usage_or_call_ids() -> None:
    # llama.cpp-style: no [DONE], no usage chunk, no tool call id (one is made up, unique).
    body = (
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":'
        b'{"name":"carbon_footprint","arguments":"{\\"activity\\":"}}]}}]}\n\n'
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":'
        b'{"arguments":"\\"car_km\\",\\"amount\\":1}"}}]}}]}\n\n'
        b'data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}]}\n\n'
    )
    events = await _raw_stream(body)
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    (call,) = turn.tool_calls
    assert call.name == "carbon_footprint"
    assert call.arguments == '{"activity":"car_km","amount":1}'
    assert call.call_id.startswith("call_")
    assert events[:-1] == [call]


async def test_malformed_chunk_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="malformed"):
        await _raw_stream(b"data: {oops\n\n")
