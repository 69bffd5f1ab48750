"""``GET /metrics`` of one app in process: what a scrape says after real requests and runs.

Every figure is checked against what the requests and runs did (their responses and events),
not against a hand-written expectation of the instrumentation.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import MetricsSettings, RateLimitSettings, RunSettings
from orchestrator.config import BudgetConfig, LLMConfig
from tests.app.metrics.support import Samples
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI, Turn, serve_in_thread
from tests.support.sse import parse_sse
from tests.support.webauthn import signed_in_user

QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"
PLAN = '{"steps":[{"kind":"report","task":"Answer"}],"notes":null}'


async def _scrape(client: AsyncTestClient[Litestar], **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return Samples(response.text)


async def test_metrics_are_public_plain_text_and_not_in_the_openapi_document(
    tmp_path: Path,
) -> None:
    async with AsyncTestClient(create_app(make_settings(tmp_path))) as client:
        first = await _scrape(client)
        schema = (await client.get("/schema/openapi.json")).json()
        second = await _scrape(client)
    assert "/metrics" not in schema["paths"]
    assert first.has("sca_runs_started_total")
    # The first scrape itself is counted by the next one, under its route template.
    assert second.value("sca_http_requests_total", route="/metrics", status="200") >= 1


async def test_a_configured_token_is_required_as_a_bearer(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    settings = make_settings(tmp_path, metrics=MetricsSettings(token=token))
    async with AsyncTestClient(create_app(settings)) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        basic = await client.get("/metrics", headers={"Authorization": f"Basic {token}"})
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401
        assert refused.json()["code"] == "not_authenticated"
        assert token not in refused.text
    assert right.status_code == 200
    assert "sca_http_requests_total" in right.text
    assert token not in repr(settings)


async def test_disabled_metrics_have_no_route(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics=MetricsSettings(enabled=False))
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404


async def test_routes_are_labelled_by_template_so_ids_add_no_series(tmp_path: Path) -> None:
    async with AsyncTestClient(create_app(make_settings(tmp_path))) as client:
        user = await signed_in_user(client, "ann@example.org")
        ids = [uuid.uuid4().hex for _ in range(5)]
        statuses = {(await client.get(f"/runs/{i}", headers=user.headers)).status_code for i in ids}
        for i in ids:
            await client.get(f"/no/such/{i}")
        await client.request("BREW", "/metrics")
        samples = await _scrape(client)
    assert statuses == {404}
    routes = samples.label_values("sca_http_requests_total", "route")
    assert not any(i in route for route in routes for i in ids)
    run_routes = [route for route in routes if route.startswith("/runs/{")]
    assert len(run_routes) == 1
    assert samples.value("sca_http_requests_total", route=run_routes[0], status="404") == 5
    assert samples.value("sca_http_requests_total", route="<unmatched>", status="404") == 5
    assert samples.value("sca_http_requests_total", method="OTHER") == 1
    assert samples.value("sca_http_request_duration_seconds_count", route=run_routes[0]) == 5
    # Sign-in: one registration and one authentication, both successful.
    assert samples.value("sca_auth_ceremonies_total", ceremony="registration") == 1
    assert samples.value("sca_auth_ceremonies_total", ceremony="authentication") == 1
    assert samples.value("sca_auth_ceremonies_total", outcome="success") == 2


async def test_offline_runs_are_counted_from_their_events(tmp_path: Path) -> None:
    async with AsyncTestClient(create_app(make_settings(tmp_path))) as client:
        user = await signed_in_user(client, "ann@example.org")
        answers = [
            (await client.post("/ask", json={"question": QUESTION}, headers=user.headers)).json()
            for _ in range(2)
        ]
        streamed = await client.post(
            "/ask-stream", json={"question": QUESTION}, headers=user.headers
        )
        frames = parse_sse(streamed.text)
        events = [frame.envelope["event"] for frame in frames if frame.id is not None]
        samples = await _scrape(client)
    assert [answer["status"] for answer in answers] == ["Success", "Success"]
    assert events[-1]["event_type"] == "completed"
    assert samples.value("sca_runs_started_total") == 3
    assert samples.value("sca_runs_completed_total") == 3
    assert samples.value("sca_runs_failed_total") == 0
    assert samples.value("sca_runs_active") == 0
    assert samples.value("sca_run_duration_seconds_count", outcome="completed") == 3
    # The streamed run's tools and steps, times three (the offline engine is deterministic).
    tools = [e for e in events if e["event_type"] == "tool_execution"]
    finished = [e for e in tools if e["data"]["status"] == "finished"]
    assert finished
    assert samples.value("sca_tool_calls_total", status="finished") == 3 * len(finished)
    for name in {e["data"]["tool"] for e in finished}:
        count = sum(1 for e in finished if e["data"]["tool"] == name)
        assert samples.value("sca_tool_duration_seconds_count", tool=name) == 3 * count
    steps = [e for e in events if e["event_type"] == "agent_response"]
    assert samples.value("sca_step_duration_seconds_count") == 3 * len(steps)
    # The offline engine runs no language model: no LLM call, token or cost is counted.
    usage = events[-1]["data"]["usage"]
    assert usage["llm_calls"] == 0
    assert samples.value("sca_llm_calls_total") == 0
    assert samples.value("sca_llm_tokens_total") == 0
    # The stream: one subscriber while it was open, its event frames and the retry frame.
    assert samples.value("sca_sse_subscribers") == 0
    assert samples.value("sca_sse_frames_total", kind="event") == len(events)
    assert samples.value("sca_sse_frames_total", kind="control") == 1
    # Pool connections were all returned.
    assert samples.value("sca_db_pool_checked_out") == 0
    assert samples.value("sca_db_pool_size") >= 1


async def test_llm_calls_tokens_errors_and_retries_by_provider_and_model(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    with serve_in_thread(fake) as base_url:
        settings = make_settings(
            tmp_path,
            llm=LLMConfig(
                provider="openai_chat", base_url=f"{base_url}/v1", api_key="sk-t", model="m-1"
            ),
            orchestrator=BudgetConfig(
                provider_retries=1, retry_backoff_s=0, grounding_checks=False
            ),
        )
        async with AsyncTestClient(create_app(settings)) as client:
            user = await signed_in_user(client, "ann@example.org")
            fake.script(
                Turn(status=429, error_message="slow down", headers={"retry-after": "0"}),
                Turn(text=PLAN, cached_tokens=3),
                Turn(text="# Report\n\nDone.", reasoning_tokens=2),
            )
            ok = (
                await client.post("/ask", json={"question": QUESTION}, headers=user.headers)
            ).json()
            fake.script(Turn(status=401, error_message="Incorrect API key"))
            failed = (
                await client.post("/ask", json={"question": QUESTION}, headers=user.headers)
            ).json()
            samples = await _scrape(client)
    assert ok["status"] == "Success", ok
    assert failed["error"]["code"] == "llm_auth_failed"
    usage = ok["usage"]
    labels = {"provider": "openai_chat", "model": "m-1"}
    assert samples.value("sca_llm_calls_total", **labels) == usage["llm_calls"] == 2
    for kind in ("input", "cached", "output", "reasoning"):
        counted = samples.value("sca_llm_tokens_total", kind=kind, **labels)
        assert counted == usage[f"{kind}_tokens"], kind
    assert usage["cached_tokens"] == 3
    assert usage["reasoning_tokens"] == 2
    assert samples.value("sca_llm_retries_total", code="llm_rate_limited", **labels) == 1
    assert samples.value("sca_llm_errors_total", code="llm_rate_limited", **labels) == 1
    assert samples.value("sca_llm_errors_total", code="llm_auth_failed", **labels) == 1
    assert samples.value("sca_llm_retries_total", code="llm_auth_failed") == 0
    assert samples.value("sca_llm_call_duration_seconds_count", **labels) == 2
    assert samples.value("sca_runs_failed_total", code="llm_auth_failed") == 1
    assert samples.value("sca_run_duration_seconds_count", outcome="failed") == 1
    assert samples.value("sca_runs_completed_total") == 1


async def test_refusals_are_counted_by_reason(tmp_path: Path) -> None:
    fake = FakeOpenAI(latency_s=1.0, default=Turn(text=PLAN))
    with serve_in_thread(fake) as base_url:
        settings = make_settings(
            tmp_path,
            llm=LLMConfig(provider="openai_chat", base_url=f"{base_url}/v1", api_key="sk-t"),
            runs=RunSettings(max_concurrent_per_user=1),
        )
        async with AsyncTestClient(create_app(settings)) as client:
            user = await signed_in_user(client, "ann@example.org")
            first = _in_thread(client, "/ask", user.headers)
            await _until_active(client, 1)
            second = await client.post("/ask", json={"question": QUESTION}, headers=user.headers)
            assert (await first).json()["status"] == "Success"
            samples = await _scrape(client)
    assert second.status_code == 429
    assert samples.value("sca_run_refusals_total", reason="user_limit") == 1
    assert samples.value("sca_runs_started_total") == 1
    assert samples.value("sca_runs_active") == 0


def _in_thread(client: AsyncTestClient[Litestar], path: str, headers: dict[str, str]) -> Any:
    """``POST path`` from a thread with its own loop: the test client serves one request at a
    time per loop, and this one is held by the slow model server."""
    return asyncio.ensure_future(
        asyncio.to_thread(
            lambda: asyncio.run(client.post(path, json={"question": QUESTION}, headers=headers))
        )
    )


async def _until_active(client: AsyncTestClient[Litestar], count: int) -> None:
    for _ in range(250):
        if (await _scrape(client)).value("sca_runs_active") == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {count} active runs")


async def test_a_busy_conversation_and_the_process_limit_are_counted_apart(
    tmp_path: Path,
) -> None:
    fake = FakeOpenAI(latency_s=1.0, default=Turn(text=PLAN))
    with serve_in_thread(fake) as base_url:
        settings = make_settings(
            tmp_path,
            llm=LLMConfig(provider="openai_chat", base_url=f"{base_url}/v1", api_key="sk-t"),
            runs=RunSettings(max_concurrent_per_user=2, max_concurrent_per_process=2),
        )
        async with AsyncTestClient(create_app(settings)) as client:
            ann = await signed_in_user(client, "ann@example.org")
            bob = await signed_in_user(client, "bob@example.org")
            carol = await signed_in_user(client, "carol@example.org")
            first = _in_thread(client, "/ask-stream", ann.headers)
            await _until_active(client, 1)
            listed = (await client.get("/runs", headers=ann.headers)).json()["runs"]
            conversation = listed[0]["conversation_id"]
            busy = await client.post(
                f"/conversations/{conversation}/messages",
                json={"question": QUESTION},
                headers=ann.headers,
            )
            second = _in_thread(client, "/ask", bob.headers)
            await _until_active(client, 2)
            full = await client.post("/ask", json={"question": QUESTION}, headers=carol.headers)
            assert (await first).status_code == 200
            assert (await second).json()["status"] == "Success"
            samples = await _scrape(client)
    assert (busy.status_code, busy.json()["code"]) == (409, "conversation_busy")
    assert (full.status_code, full.json()["code"]) == (429, "too_many_runs")
    assert samples.value("sca_run_refusals_total", reason="conversation_busy") == 1
    assert samples.value("sca_run_refusals_total", reason="process_limit") == 1
    assert samples.value("sca_run_refusals_total", reason="user_limit") == 0
    assert samples.value("sca_runs_started_total") == 2
    assert samples.value("sca_runs_completed_total") == 2


async def test_sign_in_rate_limit_refusals_are_counted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit=RateLimitSettings(ceremony_per_minute=2))
    async with AsyncTestClient(create_app(settings)) as client:
        statuses = [(await client.post("/auth/login/begin", json={})).status_code for _ in range(4)]
        bad = await client.post("/auth/login/complete", json={})
        samples = await _scrape(client)
    assert statuses == [200, 200, 429, 429]
    assert bad.status_code == 429
    assert samples.value("sca_auth_rate_limited_total", route="/auth/login/begin") == 2
    assert samples.value("sca_auth_rate_limited_total", route="/auth/login/complete") == 1
    assert (
        samples.value(
            "sca_auth_ceremonies_total", ceremony="authentication", outcome="rate_limited"
        )
        == 1
    )


def test_the_settings_hide_the_token() -> None:
    settings = MetricsSettings(token="s3cret-token")
    assert "s3cret-token" not in repr(settings)
    assert msgspec.to_builtins(settings)["token"] == "s3cret-token"


@pytest.mark.parametrize("enabled", [True, False])
def test_metrics_settings_come_from_the_environment(enabled: bool) -> None:
    from app.settings import load_settings

    settings = load_settings(
        environ={"APP__METRICS__ENABLED": str(enabled).lower(), "APP__METRICS__TOKEN": "t" * 20}
    )
    assert settings.metrics.enabled is enabled
    assert settings.metrics.token == "t" * 20
    assert settings.redacted()["metrics"]["token"] == "***"
