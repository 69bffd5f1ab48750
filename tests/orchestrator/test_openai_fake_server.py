"""The fake OpenAI server is faithful enough for the SDK's own typed helpers.

If these pass, what the providers are tested against is what the real SDK accepts: the ordered
Responses event sequence (the SDK's stream helper rejects out-of-order events), non-streamed
objects, chat chunks with usage, and the HTTP control API used by out-of-process tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from tests.fakes.openai_server import Call, FakeOpenAI, Turn, serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, openai.AsyncOpenAI]]:
    app = FakeOpenAI()
    async with serve(app) as base_url:
        client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="k", max_retries=0)
        yield app, client
        await client.close()


async def test_sdk_responses_stream_helper_accepts_the_event_sequence(
    fake: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    app, client = fake
    app.script(Turn(text="Hello there", tool_calls=(Call("lookup", '{"q": "x"}', "call_a"),)))
    async with client.responses.stream(model="m", input="hi") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert "response.function_call_arguments.delta" in kinds
    assert final.output_text == "Hello there"
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [("call_a", "lookup", '{"q": "x"}')]
    assert final.usage is not None
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens


async def test_sdk_stream_helper_accepts_reasoning_and_the_fake_checks_its_replay(
    fake: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    app, client = fake
    app.script(Turn(reasoning="Look it up.", tool_calls=(Call("lookup", "{}", "call_r"),)))
    async with client.responses.stream(
        model="o4-mini", input="hi", store=False, include=["reasoning.encrypted_content"]
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in kinds
    reasoning, call = final.output
    assert reasoning.type == "reasoning"
    assert call.type == "function_call"
    (emitted,) = app.reasoning_items
    assert reasoning.model_dump(exclude_none=True) == emitted
    assert emitted["encrypted_content"]
    # Replayed reasoning is checked the way OpenAI checks it (and the script is not consumed).
    unsealed = {**emitted, "encrypted_content": None}
    call_item = {"type": "function_call", "call_id": "call_r", "name": "lookup", "arguments": "{}"}
    not_found: Any = [unsealed, call_item]
    alone: Any = [emitted]
    with pytest.raises(openai.NotFoundError, match="not persisted"):
        await client.responses.create(model="o4-mini", input=not_found, store=False)
    with pytest.raises(openai.BadRequestError, match="without its required following item"):
        await client.responses.create(model="o4-mini", input=alone, store=False)
    assert app.pending == 0


async def test_sdk_non_streamed_responses_and_chat(
    fake: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    app, client = fake
    app.script(Turn(text="plain"), Turn(tool_calls=(Call("lookup", "{}", "call_b"),)))
    response = await client.responses.create(model="m", input="hi")
    assert response.output_text == "plain"
    completion = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == "call_b"


async def test_sdk_chat_stream_with_usage(fake: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    app, client = fake
    app.script(Turn(text="streamed words", cached_tokens=3))
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        usage = chunk.usage or usage
    assert text == "streamed words"
    assert usage is not None
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3


async def test_exhausted_script_is_a_clear_500(fake: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    _, client = fake
    with pytest.raises(openai.InternalServerError, match="script is exhausted"):
        await client.responses.create(model="m", input="hi")


@pytest.mark.server
def test_out_of_process_fake_is_scripted_over_http(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    with (tmp_path / "fake.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.openai_server", "--port-file", str(port_file)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while not (port_file.exists() and port_file.read_text()):
            assert process.poll() is None, "the fake server exited"
            assert time.monotonic() < deadline, "the fake server did not start"
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port_file.read_text()}"
        with httpx2.Client(base_url=base_url) as http:
            queued = http.post("/_fake/script", json=[{"text": "<b>scripted</b>"}])
            assert queued.json() == {"queued": 1, "pending": 1}
            with openai.OpenAI(base_url=f"{base_url}/v1", api_key="k", max_retries=0) as client:
                completion = client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}]
                )
            assert completion.choices[0].message.content == "<b>scripted</b>"
            recorded = http.get("/_fake/requests").json()
            assert [r["path"] for r in recorded] == ["/v1/chat/completions"]
            assert recorded[0]["body"]["messages"] == [{"role": "user", "content": "hi"}]
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_control_api_default_timing_and_reset() -> None:
    app = FakeOpenAI()
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://fake") as http:
        answer = {"tool_calls": [{"name": "lookup", "arguments": "{}"}]}
        assert (await http.post("/_fake/default", json=answer)).status_code == 200
        timing = await http.post("/_fake/timing", json={"latency_ms": 20, "event_delay_ms": 1})
        assert timing.json() == {"latency_ms": 20.0, "event_delay_ms": 1.0}
        assert app.latency_s == 0.02
        client = openai.AsyncOpenAI(
            base_url="http://fake/v1", api_key="k", max_retries=0, http_client=http
        )
        for _ in range(2):  # the default answers forever
            response = await client.responses.create(model="m", input="hi")
            assert [item.type for item in response.output] == ["function_call"]
        assert len(app.bodies("/v1/responses")) == 2
        assert (await http.post("/_fake/reset")).json() == {"pending": 0}
        assert app.requests == []
        with pytest.raises(openai.InternalServerError, match="script is exhausted"):
            await client.responses.create(model="m", input="hi")
        missing = await http.get("/_fake/nothing")
        assert missing.status_code == 404
