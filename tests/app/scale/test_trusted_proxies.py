"""Behind a load balancer the socket peer is the proxy: the ceremony rate limit must count
the real client (X-Forwarded-For) when, and only when, the peer is a trusted proxy."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import ConfigError, RateLimitSettings, Settings, load_settings
from tests.conftest import make_settings

LIMIT = RateLimitSettings(ceremony_per_minute=2)


def _settings(tmp_path: Path, trusted: tuple[str, ...]) -> Settings:
    settings = make_settings(tmp_path, rate_limit=LIMIT)
    server = msgspec.structs.replace(settings.server, trusted_proxies=trusted)
    return msgspec.structs.replace(settings, server=server)


async def _begin(client: AsyncTestClient[Litestar], forwarded_for: str) -> int:
    response = await client.post(
        "/auth/login/begin", json={}, headers={"X-Forwarded-For": forwarded_for}
    )
    return response.status_code


async def test_clients_behind_a_trusted_proxy_have_their_own_limits(tmp_path: Path) -> None:
    # The Litestar test client's peer address is "testclient".
    async with AsyncTestClient(create_app(_settings(tmp_path, ("testclient",)))) as client:
        assert [await _begin(client, "198.51.100.1") for _ in range(3)] == [200, 200, 429]
        assert await _begin(client, "198.51.100.2") == 200
        # The right-most untrusted address counts: a client cannot pick its own bucket.
        assert await _begin(client, "203.0.113.9, 198.51.100.1") == 429


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path: Path) -> None:
    async with AsyncTestClient(create_app(_settings(tmp_path, ()))) as client:
        statuses = [await _begin(client, f"198.51.100.{i}") for i in range(3)]
        assert statuses == [200, 200, 429]


def test_trusted_proxies_must_be_addresses_or_networks(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("")
    good = load_settings(
        config,
        environ={"APP__SERVER__TRUSTED_PROXIES": '["10.0.0.0/8", "127.0.0.1", "::1"]'},
        generate_dev_secret=False,
    )
    assert good.server.trusted_proxies == ("10.0.0.0/8", "127.0.0.1", "::1")
    with pytest.raises(ConfigError) as bad:
        load_settings(
            config,
            environ={"APP__SERVER__TRUSTED_PROXIES": '["proxy.local"]'},
            generate_dev_secret=False,
        )
    assert bad.value.problems == [
        'server.trusted_proxies: expected array of IP addresses or networks like "10.0.0.0/8" '
        '(or ["*"] to trust any peer), got ["proxy.local"]'
    ]
