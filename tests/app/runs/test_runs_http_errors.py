"""Refusals to start a run, through HTTP while another run is really in progress.

``RunService`` raises these (tested in ``test_run_service.py``); here the real app answers them:
429 ``too_many_runs`` with ``Retry-After: 5`` (per user and per process) and 409
``conversation_busy``.

A run is held in progress by the fake OpenAI server (in its own thread) delaying every model call
far longer than a test may last; the test ends the run with ``POST /runs/{id}/cancel``, so
nothing depends on timing. The Litestar test client blocks its thread until a streamed response
has ended, so the held run's ``POST /ask-stream`` is sent from a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import RunSettings, Settings
from orchestrator.config import BudgetConfig, LLMConfig
from tests.fakes.openai_server import FakeOpenAI, Turn, serve_in_thread
from tests.support.sse import parse_sse
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"
# Longer than pytest's timeout: a held run only ends when the test cancels it.
HOLD_S = 3600.0


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    """The fake OpenAI server holding every model call; yields it and its base URL."""
    fake = FakeOpenAI(latency_s=HOLD_S)
    with serve_in_thread(fake) as base_url:
        yield fake, base_url


@asynccontextmanager
async def app_client(
    settings: Settings, base_url: str, runs: RunSettings | None = None
) -> AsyncIterator[Client]:
    """The real app on ``settings``' database, its model calls sent to the fake."""
    settings = msgspec.structs.replace(
        settings,
        runs=runs or RunSettings(),
        llm=LLMConfig(
            provider="openai_chat",
            base_url=f"{base_url}/v1",
            api_key="sk-test-dummy",
            max_retries=0,
            read_timeout_s=HOLD_S,
        ),
        # Scripted one-step plans for data questions: the grounding checks (tested in
        # tests/orchestrator/test_grounding.py) would ask for a data step.
        orchestrator=BudgetConfig(provider_retries=0, grounding_checks=False),
    )
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


def _post_from_thread(client: Client, path: str, user: AuthedUser) -> asyncio.Task[httpx.Response]:
    """``POST path`` from a worker thread (with its own event loop), as a task of this loop."""

    def send() -> httpx.Response:
        return asyncio.run(client.post(path, json={"question": QUESTION}, headers=user.headers))

    return asyncio.create_task(asyncio.to_thread(send))


async def _running(client: Client, user: AuthedUser, sending: asyncio.Task[Any]) -> dict[str, Any]:
    """The user's run once it is stored as running (the run service has counted it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sending.done():
            raise AssertionError(f"the held request ended early: {sending.result().text}")
        runs = (await client.get("/runs", headers=user.headers)).json()["runs"]
        if runs and runs[0]["status"] == "running":
            run: dict[str, Any] = runs[0]
            return run
        await asyncio.sleep(0.01)
    raise AssertionError("the held run never showed as running")


@asynccontextmanager
async def held_run(client: Client, user: AuthedUser) -> AsyncIterator[dict[str, Any]]:
    """A run of ``user`` started by ``POST /ask-stream`` and in progress until the block ends;
    then it is cancelled, and its stream must end with the ``cancelled`` error event."""
    sending = _post_from_thread(client, "/ask-stream", user)
    try:
        run = await _running(client, user, sending)
        yield run
    finally:
        if not sending.done():
            runs = (await client.get("/runs", headers=user.headers)).json()["runs"]
            for listed in runs:
                if listed["status"] == "running":
                    await client.post(f"/runs/{listed['id']}/cancel", headers=user.headers)
        response = await asyncio.wait_for(sending, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["x-run-id"] == run["id"]
    last = [frame for frame in parse_sse(response.text) if frame.id is not None][-1]
    assert last.event == "error"
    assert last.event_body["data"]["code"] == "cancelled"


def assert_too_many_runs(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "too_many_runs"
    assert body["detail"] == detail


@pytest.mark.parametrize("path", ["/ask", "/ask-stream"])
async def test_a_user_at_the_per_user_limit_gets_429_with_retry_after(
    settings: Settings, fake_llm: tuple[FakeOpenAI, str], path: str
) -> None:
    _, base_url = fake_llm
    async with app_client(settings, base_url, RunSettings(max_concurrent_per_user=1)) as client:
        alice = await signed_in_user(client, "alice@example.org")
        async with held_run(client, alice):
            refused = await client.post(path, json={"question": QUESTION}, headers=alice.headers)
            assert_too_many_runs(
                refused,
                "You already have 1 runs in progress; wait for one to finish or cancel it.",
            )
            # Nothing of the refused question was stored.
            listed = (await client.get("/runs", headers=alice.headers)).json()
            assert listed["total"] == 1
            conversations = (await client.get("/conversations", headers=alice.headers)).json()
            assert len(conversations["conversations"]) == 1


async def test_the_per_process_limit_refuses_other_users_with_429(
    settings: Settings, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    _, base_url = fake_llm
    limits = RunSettings(max_concurrent_per_user=3, max_concurrent_per_process=1)
    async with app_client(settings, base_url, limits) as client:
        alice = await signed_in_user(client, "alice@example.org")
        bob = await signed_in_user(client, "bob@example.org")
        async with held_run(client, alice):
            for path in ("/ask", "/ask-stream"):
                refused = await client.post(path, json={"question": QUESTION}, headers=bob.headers)
                assert_too_many_runs(
                    refused,
                    "The server is running its maximum of 1 concurrent runs; retry shortly.",
                )
            assert (await client.get("/runs", headers=bob.headers)).json()["total"] == 0


async def test_a_conversation_with_a_run_in_progress_is_busy_until_it_ends(
    settings: Settings, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, base_url = fake_llm
    async with app_client(settings, base_url) as client:
        alice = await signed_in_user(client, "alice@example.org")
        async with held_run(client, alice) as run:
            conversation = run["conversation_id"]
            busy = await client.post(
                f"/conversations/{conversation}/messages",
                json={"question": "And for 2,000 kWh?"},
                headers=alice.headers,
            )
            assert busy.status_code == 409, busy.text
            assert busy.headers["content-type"].startswith("application/json")
            body = busy.json()
            assert body["code"] == "conversation_busy"
            assert body["detail"] == (
                "This conversation already has a question in progress; wait for it to finish."
            )
            detail = (
                await client.get(f"/conversations/{conversation}", headers=alice.headers)
            ).json()
            assert [m["content"] for m in detail["messages"]] == [QUESTION]
            assert (await client.get("/runs", headers=alice.headers)).json()["total"] == 1

        # Once the run ended (cancelled), the conversation takes the follow-up.
        fake.latency_s = 0.0
        fake.script(
            Turn(text='{"steps":[{"kind":"report","task":"Answer"}],"notes":null}'),
            Turn(text="# Report\n\nAbout 600 kg CO2e."),
        )
        follow_up = await client.post(
            f"/conversations/{conversation}/messages",
            json={"question": "And for 2,000 kWh?"},
            headers=alice.headers,
        )
        assert follow_up.status_code == 200, follow_up.text
        assert follow_up.headers["x-conversation-id"] == str(conversation)
        last = [frame for frame in parse_sse(follow_up.text) if frame.id is not None][-1]
        assert last.event == "completed", follow_up.text
        detail = (await client.get(f"/conversations/{conversation}", headers=alice.headers)).json()
        roles = [message["role"] for message in detail["messages"]]
        assert roles == ["user", "assistant", "user", "assistant"]
