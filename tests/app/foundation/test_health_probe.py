"""``/health`` probes the model server (``GET /models`` through the provider's real SDK client)
and says ``warning`` with the reason when it is unreachable or lacks the configured model; the
probe is cached and shared by concurrent calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

import msgspec
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import Settings
from orchestrator.config import LLMConfig
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI, closed_port, serve_in_thread

MODEL = "qwen2.5-1.5b-instruct"


def _settings(
    tmp_path: Path,
    base_url: str,
    *,
    provider: Literal["openai", "openai_chat"] = "openai_chat",
    ttl: float = 30.0,
) -> Settings:
    llm = LLMConfig(provider=provider, base_url=base_url, api_key="sk-probe-secret", model=MODEL)
    settings = make_settings(tmp_path, llm=llm)
    return msgspec.structs.replace(
        settings,
        server=msgspec.structs.replace(
            settings.server, data_dir=str(tmp_path), health_probe_ttl_s=ttl
        ),
    )


def _model_list_requests(fake: FakeOpenAI) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path.endswith("/models"))


async def _health(settings: Settings) -> tuple[int, dict[str, Any]]:
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/health")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_an_unreachable_model_server_is_a_warning_with_the_reason(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    status, body = await _health(_settings(tmp_path, base_url))

    provider = body["components"]["provider"]
    assert status == 200  # a warning keeps the instance in the load balancer
    assert body["status"] == "warning"
    assert provider["status"] == "warning"
    assert provider["probe"] == "unreachable"
    assert provider["message"].startswith("cannot connect to http://127.0.0.1:")
    assert body["api_error"] == provider["message"]
    # The predecessor's keys say the same.
    assert body["components"]["openai_client_status"] == "not_connected"
    assert body["components"]["openai_api_status"] == "error"
    assert "sk-probe-secret" not in str(body)


async def test_a_server_without_the_configured_model_is_a_warning_naming_it(
    tmp_path: Path,
) -> None:
    fake = FakeOpenAI(models=["llama-3.2-3b", "phi-4"])
    with serve_in_thread(fake) as base_url:
        status, body = await _health(_settings(tmp_path, f"{base_url}/v1"))

    provider = body["components"]["provider"]
    assert (status, body["status"], provider["status"]) == (200, "warning", "warning")
    assert provider["probe"] == "model_missing"
    assert provider["missing_models"] == [MODEL]
    assert f"model '{MODEL}' not served by" in provider["message"]
    assert "(it lists: llama-3.2-3b, phi-4)" in provider["message"]
    assert body["components"]["openai_api_status"] == "error"
    assert body["components"]["openai_client_status"] == "connected"


async def test_a_server_serving_the_model_is_healthy(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=[MODEL, "other"])
    with serve_in_thread(fake) as base_url:
        status, body = await _health(_settings(tmp_path, f"{base_url}/v1"))

    provider = body["components"]["provider"]
    assert (status, body["status"], provider["status"]) == (200, "healthy", "healthy")
    assert provider["probe"] == "ok"
    assert provider["model"] == MODEL
    assert provider["latency_ms"] >= 0
    assert body["api_error"] is None
    # Before any run, the probe is what the API is known to do.
    assert body["components"]["openai_api_status"] == "healthy"
    # The request went through the provider's own client: its key and base path.
    (request,) = [r for r in fake.requests if r.path.endswith("/models")]
    assert request.path == "/v1/models"
    assert request.headers["authorization"] == "Bearer sk-probe-secret"


async def test_the_responses_provider_is_probed_the_same_way(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=["gpt-4.1-mini"])
    with serve_in_thread(fake) as base_url:
        _, body = await _health(_settings(tmp_path, f"{base_url}/v1", provider="openai"))
    provider = body["components"]["provider"]
    assert (provider["provider"], provider["probe"]) == ("openai", "model_missing")
    assert _model_list_requests(fake) == 1


async def test_the_probe_is_cached_and_concurrent_calls_share_one(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=[MODEL])
    with serve_in_thread(fake) as base_url:
        async with AsyncTestClient(create_app(_settings(tmp_path, f"{base_url}/v1"))) as client:
            together = await asyncio.gather(*(client.get("/health") for _ in range(5)))
            later = [await client.get("/health") for _ in range(3)]

    assert {r.json()["components"]["provider"]["probe"] for r in together + later} == {"ok"}
    assert _model_list_requests(fake) == 1


async def test_an_expired_probe_is_repeated(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=[MODEL])
    with serve_in_thread(fake) as base_url:
        settings = _settings(tmp_path, f"{base_url}/v1", ttl=0.05)
        async with AsyncTestClient(create_app(settings)) as client:
            await client.get("/health")
            await asyncio.sleep(0.1)
            await client.get("/health")
    assert _model_list_requests(fake) == 2


async def test_a_zero_ttl_turns_the_probe_off(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=[])
    with serve_in_thread(fake) as base_url:
        _, body = await _health(_settings(tmp_path, f"{base_url}/v1", ttl=0))
    provider = body["components"]["provider"]
    assert (provider["status"], provider["message"]) == ("healthy", "configured")
    assert "probe" not in provider
    assert _model_list_requests(fake) == 0


async def test_the_offline_engine_has_nothing_to_probe_and_is_healthy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with AsyncTestClient(create_app(settings)) as client:
        body = (await client.get("/health")).json()
    provider = body["components"]["provider"]
    assert (body["status"], provider["status"]) == ("healthy", "healthy")
    assert provider["message"] == "offline engine (no network, no key)"
    assert "probe" not in provider
