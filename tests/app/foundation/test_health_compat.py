"""``/health`` carries the predecessor's scalar keys, each derived from real state."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.health import ComponentStatus
from app.health_compat import api_status_of_failure, legacy_health
from app.main import create_app
from app.settings import ServerSettings, Settings
from orchestrator.config import BudgetConfig, LLMConfig
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI, Turn, serve_in_thread
from tests.support.webauthn import signed_in_user

LEGACY_COMPONENT_KEYS = {
    "agents_status",
    "openai_client_status",
    "openai_api_status",
    "api_key_configured",
    "data_directory_exists",
    "data_files_count",
}
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"
PLAN = '{"steps":[{"kind":"report","task":"Answer"}],"notes":null}'


def _with_data_dir(tmp_path: Path, data_dir: Path, **sections: Any) -> Settings:
    settings = make_settings(tmp_path, **sections)
    return msgspec.structs.replace(
        settings, server=msgspec.structs.replace(settings.server, data_dir=str(data_dir))
    )


async def test_offline_health_has_every_legacy_key_with_its_real_value(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for name in ("a.csv", "b.json", "images/c.png"):
        (data / name).write_text("x")
    async with AsyncTestClient(create_app(_with_data_dir(tmp_path, data))) as client:
        body = (await client.get("/health")).json()

    components = body["components"]
    assert components.keys() >= LEGACY_COMPONENT_KEYS
    assert components["agents_status"] == "initialized"
    assert components["openai_client_status"] == "not_connected"
    assert components["openai_api_status"] == "unknown"
    assert components["api_key_configured"] is False
    assert components["data_directory_exists"] is True
    assert components["data_files_count"] == 3
    # The real component checks are still objects next to the scalar keys.
    assert components["database"]["status"] == "healthy"
    assert components["provider"]["provider"] == "offline"
    assert body["api_error"] is None
    assert body["uptime_check"] == body["timestamp"]
    assert datetime.fromisoformat(body["uptime_check"]).utcoffset() is not None


async def test_a_missing_data_directory_is_reported_with_no_files(tmp_path: Path) -> None:
    settings = _with_data_dir(tmp_path, tmp_path / "nowhere")
    async with AsyncTestClient(create_app(settings)) as client:
        components = (await client.get("/health")).json()["components"]
    assert components["data_directory_exists"] is False
    assert components["data_files_count"] == 0


async def test_an_openai_provider_without_a_key_is_not_connected_and_says_why(
    tmp_path: Path,
) -> None:
    settings = _with_data_dir(tmp_path, tmp_path, llm=LLMConfig(provider="openai"))
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/health")
    body = response.json()
    assert response.status_code == 503
    assert body["components"]["openai_client_status"] == "not_connected"
    assert body["components"]["api_key_configured"] is False
    assert body["components"]["openai_api_status"] == "unknown"
    assert body["api_error"] == "OPENAI_API_KEY is not set"


async def test_the_api_status_follows_what_runs_learn_from_the_model_server(
    tmp_path: Path,
) -> None:
    """Healthy before any run (the health probe found the server serving the model), then
    invalid_key after a 401, forbidden after a 403, quota_exceeded after an
    insufficient-quota 429, healthy after an answered run: what runs learn wins."""
    fake = FakeOpenAI(models=["gpt-4.1-mini"])
    with serve_in_thread(fake) as base_url:
        settings = _with_data_dir(
            tmp_path,
            tmp_path,
            llm=LLMConfig(
                provider="openai_chat", base_url=f"{base_url}/v1", api_key="sk-test-legacy"
            ),
            # A scripted one-step plan: no grounding checks (tests/orchestrator/test_grounding.py).
            orchestrator=BudgetConfig(provider_retries=0, grounding_checks=False),
        )
        async with AsyncTestClient(create_app(settings)) as client:
            user = await signed_in_user(client, "alice@example.org")

            async def ask() -> None:
                await client.post("/ask", json={"question": QUESTION}, headers=user.headers)

            async def health() -> tuple[int, dict[str, Any]]:
                response = await client.get("/health")
                body: dict[str, Any] = response.json()
                return response.status_code, body

            status, body = await health()
            assert (status, body["components"]["openai_api_status"]) == (200, "healthy")
            assert body["components"]["openai_client_status"] == "connected"
            assert body["components"]["api_key_configured"] is True
            assert body["api_error"] is None

            fake.script(Turn(status=401, error_message="Incorrect API key provided"))
            await ask()
            status, body = await health()
            assert (status, body["components"]["openai_api_status"]) == (503, "invalid_key")
            assert "rejected the API key" in body["api_error"]
            assert "sk-test-legacy" not in str(body)

            fake.script(Turn(status=403, error_message="Project lacks access"))
            await ask()
            assert (await health())[1]["components"]["openai_api_status"] == "forbidden"

            fake.script(
                Turn(
                    status=429,
                    error_message="You exceeded your current quota, please check your plan.",
                )
            )
            await ask()
            status, body = await health()
            assert (status, body["components"]["openai_api_status"]) == (503, "quota_exceeded")
            assert "quota" in body["api_error"]

            fake.script(Turn(text=PLAN), Turn(text="# Report\n\nAll good."))
            await ask()
            status, body = await health()
            assert (status, body["components"]["openai_api_status"]) == (200, "healthy")
            assert body["api_error"] is None


def test_an_ordinary_rate_limit_does_not_change_the_api_status() -> None:
    assert api_status_of_failure("llm_rate_limited", "rate limited (HTTP 429): slow down") is None
    assert api_status_of_failure("llm_unavailable", "server error (HTTP 500)") is None
    assert api_status_of_failure("llm_auth_failed", "rejected (HTTP 401).") == "invalid_key"


async def test_without_an_orchestrator_the_agents_are_not_initialized(tmp_path: Path) -> None:
    provider = ComponentStatus(status="healthy", message="offline engine")
    settings = make_settings(tmp_path, server=ServerSettings(data_dir=str(tmp_path)))
    legacy = await legacy_health(settings, None, provider, None, "2026-01-01T00:00:00+00:00")
    assert legacy.components["agents_status"] == "not_initialized"
    assert legacy.components["openai_client_status"] == "not_connected"
    assert legacy.uptime_check == "2026-01-01T00:00:00+00:00"


async def test_file_counting_stops_at_its_cap(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("app.health_compat.MAX_COUNTED_FILES", 5)
    for index in range(8):
        (tmp_path / f"f{index}").write_text("x")
    provider = ComponentStatus(status="healthy", message="offline engine")
    settings = make_settings(tmp_path, server=ServerSettings(data_dir=str(tmp_path)))
    legacy = await legacy_health(settings, None, provider, None, "now")
    assert legacy.components["data_files_count"] == 5


async def test_health_report_is_documented_with_the_legacy_fields(app: Litestar) -> None:
    schema = app.openapi_schema.to_schema()
    report = schema["components"]["schemas"]["HealthReport"]
    assert {"api_error", "uptime_check", "components"} <= set(report["properties"])
