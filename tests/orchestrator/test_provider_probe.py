"""The providers' probe (``GET /models`` through the real SDK client): what each answer of the
server means, and the fallback for providers without a server."""

from __future__ import annotations

from typing import Any

import httpx2
import msgspec
import pytest

from orchestrator import ProbingProvider, probe_provider
from orchestrator.config import LLMConfig
from orchestrator.providers.offline import OfflineProvider
from orchestrator.providers.openai_chat import OpenAIChatProvider
from orchestrator.providers.openai_responses import OpenAIResponsesProvider
from orchestrator.providers.scripted import ScriptedProvider
from tests.fakes.openai_server import FakeOpenAI, closed_port, serve

KEY = "sk-probe-key-789"


def _answering(status: int, body: Any) -> Any:
    """An ASGI app answering every request with ``status`` and the JSON ``body``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        payload = msgspec.json.encode(body)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def _chat(base_url: str, **http: Any) -> OpenAIChatProvider:
    config = LLMConfig(provider="openai_chat", base_url=base_url, api_key=KEY)
    return OpenAIChatProvider(config, **http)


async def _probe_answering(status: int, body: Any, models: tuple[str, ...] = ("m",)) -> Any:
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=_answering(status, body)))
    provider = _chat("http://fake/v1", http_client=client)
    try:
        return await provider.probe(models, 2.0)
    finally:
        await provider.aclose()


async def test_a_listed_model_is_ok_and_an_ollama_latest_tag_counts() -> None:
    fake = FakeOpenAI(models=["llama3.2:latest", "qwen2.5"])
    async with serve(fake) as base_url:
        provider = _chat(f"{base_url}/v1")
        try:
            result = await provider.probe(("llama3.2", "qwen2.5"), 2.0)
        finally:
            await provider.aclose()
    assert result.status == "ok"
    assert result.missing == ()
    assert result.available == ("llama3.2:latest", "qwen2.5")
    assert result.message == (f"model server {base_url}/v1 reachable, serves 'llama3.2', 'qwen2.5'")


async def test_a_missing_model_is_named_with_what_the_server_lists() -> None:
    fake = FakeOpenAI(models=["phi-4"])
    async with serve(fake) as base_url:
        provider = OpenAIResponsesProvider(
            LLMConfig(provider="openai", base_url=f"{base_url}/v1", api_key=KEY)
        )
        try:
            result = await provider.probe(("gpt-4.1-mini", "phi-4", "gpt-4.1-mini"), 2.0)
        finally:
            await provider.aclose()
    assert result.status == "model_missing"
    assert result.missing == ("gpt-4.1-mini",)
    assert "(it lists: phi-4)" in result.message


async def test_a_closed_port_is_unreachable_and_the_key_is_never_shown() -> None:
    port = closed_port()
    provider = _chat(f"http://user:pw@127.0.0.1:{port}/v1")
    try:
        result = await provider.probe(("m",), 2.0)
    finally:
        await provider.aclose()
    assert result.status == "unreachable"
    assert result.message.startswith(f"cannot connect to http://127.0.0.1:{port}/v1")
    assert "pw" not in result.message
    assert KEY not in result.message


@pytest.mark.parametrize(
    ("status", "expected", "fragment"),
    [
        (401, "rejected", "rejected the credentials (HTTP 401)"),
        (403, "rejected", "rejected the credentials (HTTP 403)"),
        (503, "error", "answered HTTP 503 to GET /models"),
        (404, "ok", "reachable (it does not list models)"),
    ],
)
async def test_each_answer_of_the_server_has_its_meaning(
    status: int, expected: str, fragment: str
) -> None:
    result = await _probe_answering(status, {"error": {"message": "no"}})
    assert result.status == expected
    assert fragment in result.message


async def test_providers_without_a_server_are_ok_without_a_request() -> None:
    for provider in (OfflineProvider(), ScriptedProvider({})):
        assert not isinstance(provider, ProbingProvider)
        result = await probe_provider(provider, ("m",))
        assert result.status == "ok"
        assert "nothing to probe" in result.message
