"""The real service with two granian workers: ceremonies and logout hold across workers.

Challenges, refresh tokens and revocations live in the database, so whichever worker gets a
request sees the same state. Many requests are sent so that both workers serve some.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.live_server import LiveServer
from tests.support.webauthn import login, signed_in_user

pytestmark = [pytest.mark.server, pytest.mark.redis]


@pytest.fixture
async def http(
    live_server: Callable[..., LiveServer], redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    env = {
        "REDIS_URL": redis_url,  # several workers need it (channels); auth state is in the DB
        "APP__REDIS__KEY_PREFIX": f"auth-test-{uuid.uuid4().hex[:8]}",
        "APP__RATE_LIMIT__CEREMONY_PER_MINUTE": "1000",
    }
    server = live_server(env, ["--workers", "2"])
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=30) as client:
        yield client


async def test_sign_in_refresh_and_logout_across_two_workers(http: httpx.AsyncClient) -> None:
    ann = await signed_in_user(http, "ann@example.org")  # origin read as http://localhost:PORT
    # Sequential: one authenticator's counter must reach the server in order.
    logins = [await login(http, ann.authenticator) for _ in range(6)]
    assert {result["user"]["id"] for result in logins} == {ann.user_id}

    mes = await asyncio.gather(*(http.get("/auth/me", headers=ann.headers) for _ in range(20)))
    assert {response.status_code for response in mes} == {200}

    rotated = await http.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
    assert rotated.status_code == 200
    # Retries within the grace window, on either worker, get the very same pair…
    retries = await asyncio.gather(
        *(
            http.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
            for _ in range(4)
        )
    )
    assert {r.status_code for r in retries} == {200}
    assert {r.json()["refresh_token"] for r in retries} == {rotated.json()["refresh_token"]}
    onward = await http.post(
        "/auth/refresh-token", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    assert onward.status_code == 200
    # …but once the successor is used, presenting the old token is theft on every worker.
    replays = await asyncio.gather(
        *(
            http.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
            for _ in range(4)
        )
    )
    assert {response.json()["code"] for response in replays} == {"refresh_token_reused"}

    other = logins[0]
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await http.post("/auth/logout", headers=other_headers)).status_code == 200
    after = await asyncio.gather(*(http.get("/auth/me", headers=other_headers) for _ in range(20)))
    assert {response.status_code for response in after} == {401}
    assert {response.json()["code"] for response in after} == {"token_revoked"}
