"""Behind a load balancer the socket peer is the proxy: the ceremony rate limit must count
the real client (X-Forwarded-For) when, and only when, the peer is a trusted proxy."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from app.main import create_app
from app.proxy import ProxyHeadersMiddleware, TrustedProxies, forwarded_client
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


async def test_with_any_proxy_trusted_a_client_cannot_rotate_its_address(tmp_path: Path) -> None:
    # ["*"]: one proxy of any address appends the peer it saw; everything to its left is the
    # client's own header. Rotating that part must not give the client fresh buckets.
    async with AsyncTestClient(create_app(_settings(tmp_path, ("*",)))) as client:
        statuses = [await _begin(client, f"10.9.9.{i}, 198.51.100.7") for i in range(3)]
        assert statuses == [200, 200, 429]
        assert await _begin(client, "198.51.100.8") == 200


@pytest.mark.parametrize(
    ("forwarded_for", "trusted", "client"),
    [
        (["203.0.113.5"], ("*",), "203.0.113.5"),
        (["1.1.1.1, 203.0.113.5"], ("*",), "203.0.113.5"),
        (["1.1.1.1", "203.0.113.5"], ("*",), "203.0.113.5"),  # repeated headers join in order
        (["1.1.1.1, 203.0.113.5, 10.0.0.2"], ("10.0.0.0/8",), "203.0.113.5"),
        (["10.0.0.3, 10.0.0.2"], ("10.0.0.0/8",), "10.0.0.3"),  # all hops are proxies
        (["[2001:db8::1]:443"], ("*",), "2001:db8::1"),
        (["203.0.113.5:5060"], ("*",), "203.0.113.5"),
        (["203.0.113.5, unknown"], ("*",), None),  # not an address: nothing left of it counts
        ([" , "], ("*",), None),
        ([], ("*",), None),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(
    forwarded_for: list[str], trusted: tuple[str, ...], client: str | None
) -> None:
    assert forwarded_client(forwarded_for, TrustedProxies(trusted)) == client


async def test_forwarded_proto_sets_the_scheme_only_from_a_trusted_peer() -> None:
    seen: list[tuple[object, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["scheme"], scope["client"]))

    async def never_called(*_: object) -> None:
        raise AssertionError

    headers = [(b"x-forwarded-proto", b"http, https"), (b"x-forwarded-for", b"203.0.113.5")]
    for peer in ("10.0.0.2", "192.0.2.1"):
        scope = {"type": "http", "scheme": "http", "client": (peer, 1234), "headers": headers}
        await ProxyHeadersMiddleware(app, ["10.0.0.0/8"])(
            cast("Scope", scope), cast("Receive", never_called), never_called
        )
    assert seen == [("https", ("203.0.113.5", 0)), ("http", ("192.0.2.1", 1234))]
