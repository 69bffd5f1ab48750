"""A sign-in flood from many addresses refuses the flooders, never everyone (issue 14, row 2).

The audit filled the global challenge cap from ~67 addresses of one IPv6 /64 and every user's
``login/begin`` and ``register/begin`` answered 429. Here the caps are small so that a flood
fits in a test: one /64 of 67 addresses, then 40 IPv4 flooders that together hold twice the
table; a user from another address then registers and signs in normally.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import AuthSettings, RateLimitSettings, Settings
from tests.conftest import make_settings
from tests.live_server import TEST_JWT_SECRET
from tests.support.webauthn import SoftAuthenticator, login, register

Client = AsyncTestClient[Litestar]
PER_CLIENT = 5
TABLE = 100


def _settings(tmp_path: Path) -> Settings:
    settings = make_settings(
        tmp_path,
        auth=AuthSettings(
            jwt_secret=TEST_JWT_SECRET,
            max_pending_challenges=TABLE,
            max_pending_challenges_per_client=PER_CLIENT,
        ),
        rate_limit=RateLimitSettings(ceremony_per_minute=30, account_per_minute=10),
    )
    # The test client's peer is "testclient": trusting it lets X-Forwarded-For pick the client.
    server = msgspec.structs.replace(settings.server, trusted_proxies=("testclient",))
    return msgspec.structs.replace(settings, server=server)


async def _begin_from(client: Client, address: str, body: dict[str, str]) -> int:
    client.headers["X-Forwarded-For"] = address
    response = await client.post("/auth/login/begin", json=body)
    return response.status_code


async def test_a_flood_from_many_addresses_does_not_lock_out_a_normal_user(
    tmp_path: Path,
) -> None:
    async with AsyncTestClient(create_app(_settings(tmp_path))) as client:
        client.headers["X-Forwarded-For"] = "192.0.2.10"
        ann = SoftAuthenticator(origin="http://localhost:8000")
        await register(client, "ann@example.org", ann)

        # One IPv6 /64, 67 addresses: one client, so it gets PER_CLIENT challenges in all.
        ipv6 = [await _begin_from(client, f"2001:db8:66::{i:x}", {}) for i in range(1, 68)]
        assert ipv6.count(200) == PER_CLIENT
        assert set(ipv6[PER_CLIENT:]) == {429}

        # 40 IPv4 flooders want 200 challenges for a table of 100. Each newcomer gets in (the
        # heaviest client's oldest challenge makes room); once the flooders are levelled, a
        # flooder holding as many as anyone is refused.
        for n in range(40):
            statuses = [await _begin_from(client, f"198.51.100.{n}", {}) for _ in range(6)]
            assert statuses[0] == 200, (n, statuses)
            assert statuses.count(200) <= PER_CLIENT
            assert statuses[-1] == 429

        # A normal user from another address still signs in and registers.
        client.headers["X-Forwarded-For"] = "192.0.2.10"
        assert (await login(client, ann, "ann@example.org"))["user"]["email"] == "ann@example.org"
        assert (await login(client, ann))["user"]["email"] == "ann@example.org"
        client.headers["X-Forwarded-For"] = "192.0.2.77"
        bob = SoftAuthenticator(origin="http://localhost:8000")
        assert (await register(client, "bob@example.org", bob))["message"] == (
            "Registration successful"
        )


async def test_one_account_is_limited_across_all_addresses(tmp_path: Path) -> None:
    """Rotating addresses does not buy unlimited begin calls against one email."""
    async with AsyncTestClient(create_app(_settings(tmp_path))) as client:
        statuses = [
            await _begin_from(client, f"203.0.113.{i}", {"email": "ann@example.org"})
            for i in range(12)
        ]
        assert statuses == [200] * 10 + [429] * 2
        refused = await client.post("/auth/login/begin", json={"email": "ann@example.org"})
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        # Other accounts, and usernameless sign-in, are unaffected.
        assert await _begin_from(client, "203.0.113.99", {"email": "bob@example.org"}) == 200
        assert await _begin_from(client, "203.0.113.99", {}) == 200
