"""Per-IP rate limit of the ceremony endpoints: 429 with ``Retry-After``, windows reset."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from app.auth.clients import client_key
from app.auth.errors import AuthError
from app.auth.ratelimit import CeremonyRateLimiter, account_key
from app.main import create_app
from app.settings import RateLimitSettings
from tests.conftest import make_settings
from tests.support.webauthn import signed_in_user


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_limiter_counts_per_client_in_a_sliding_window() -> None:
    clock = FakeClock(120.0)
    limiter = CeremonyRateLimiter(2, clock=clock)
    limiter.hit("a")
    clock.now = 130.0
    limiter.hit("a")
    limiter.hit("b")
    clock.now = 150.2
    with pytest.raises(AuthError) as refused:
        limiter.hit("a")
    assert refused.value.status == 429
    assert refused.value.code == "rate_limited"
    # The call at 120.0 leaves the window at 180.0.
    assert refused.value.headers == {"Retry-After": "30"}
    clock.now = 180.0
    limiter.hit("a")
    # Now the calls at 130.0 and 180.0 are in the window; the refused one was not counted.
    clock.now = 189.5
    with pytest.raises(AuthError) as again:
        limiter.hit("a")
    assert again.value.headers == {"Retry-After": "1"}
    clock.now = 190.0
    limiter.hit("a")


def test_a_minute_boundary_does_not_double_the_limit() -> None:
    # A fixed window aligned to the clock would allow 2 calls at 59.9 and 2 more at 60.1.
    clock = FakeClock(59.9)
    limiter = CeremonyRateLimiter(2, clock=clock)
    limiter.hit("a")
    limiter.hit("a")
    clock.now = 60.1
    with pytest.raises(AuthError) as refused:
        limiter.hit("a")
    assert refused.value.headers == {"Retry-After": "60"}


def test_idle_clients_are_forgotten() -> None:
    clock = FakeClock(0.0)
    limiter = CeremonyRateLimiter(1, clock=clock)
    for client in ("a", "b", "c"):
        limiter.hit(client)
    clock.now = 45.0
    limiter.hit("d")
    clock.now = 100.0  # a, b, c called more than a minute ago; d did not
    limiter.hit("e")
    assert sorted(limiter._calls) == ["d", "e"]


def test_a_full_table_forgets_the_lightest_clients_never_refuses_a_newcomer() -> None:
    """A flood from many addresses used to fill the table and lock every new client out."""
    clock = FakeClock(0.0)
    limiter = CeremonyRateLimiter(3, clock=clock, max_clients=100)
    for i in range(100):  # 100 flooders, each at its limit, the last ones most recent
        clock.now = i * 0.1
        for _ in range(3):
            limiter.hit(f"flooder-{i}")
    clock.now = 11.0
    for n in range(300):  # newcomers keep arriving while the flood holds the table
        limiter.hit(f"user-{n}")
        assert len(limiter._calls) <= 100
    # The newest flooders were never the lightest: they are still refused.
    with pytest.raises(AuthError) as refused:
        limiter.hit("flooder-99")
    assert refused.value.status == 429


def test_clients_are_ipv4_addresses_or_ipv6_64s() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert client_key("[2001:db8::1]") == "2001:db8::/64"
    assert client_key("testclient") == "testclient"
    assert client_key(None) == client_key("") == "unknown"
    assert len(client_key("x" * 500)) == 64


def test_accounts_are_keyed_by_a_hash_of_the_normalised_email() -> None:
    assert account_key(" Ann@Example.org") == account_key("ann@example.org")
    assert "ann" not in account_key("ann@example.org")
    assert account_key("ann@example.org") != account_key("bob@example.org")


def test_disabled_limiter_never_refuses() -> None:
    limiter = CeremonyRateLimiter(1, enabled=False)
    for _ in range(5):
        limiter.hit("a")


async def test_ceremony_endpoints_answer_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit=RateLimitSettings(ceremony_per_minute=6))
    async with AsyncTestClient(create_app(settings)) as client:
        ann = await signed_in_user(client, "ann@example.org")  # 4 ceremony calls
        assert (await client.post("/auth/login/begin", json={})).status_code == 200
        assert (await client.post("/auth/login/begin", json={})).status_code == 200
        refused = await client.post("/auth/login/begin", json={})
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["code"] == "rate_limited"
        assert "per minute" in refused.json()["detail"]
        refresh = await client.post("/auth/refresh-token", json={"refresh_token": "x"})
        assert refresh.status_code == 429
        # Authenticated, non-ceremony routes are not limited.
        for _ in range(3):
            assert (await client.get("/auth/me", headers=ann.headers)).status_code == 200
