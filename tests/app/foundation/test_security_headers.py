"""Every response carries the security headers — API JSON, errors and 404s from routing, static
files, the client page (also as ``/client/static/index.html``) and the docs — with a CSP that
never allows inline script or style; HSTS only when the request came over HTTPS, directly or
per ``X-Forwarded-Proto`` from a trusted proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.security_headers import CONTENT_SECURITY_POLICY, HSTS_MAX_AGE_S
from app.settings import Settings
from tests.conftest import make_settings

# (method, path, expected status): every kind of response the service produces.
RESPONSES = [
    ("GET", "/health", 200),
    ("GET", "/openapi.json", 200),
    ("GET", "/client", 200),
    ("GET", "/client/static/index.html", 200),
    ("GET", "/client/static/app.js", 200),
    ("GET", "/docs", 200),
    ("GET", "/redoc", 200),
    ("GET", "/docs/ui/swagger-init.js", 200),
    ("GET", "/docs/assets/swagger-ui-dist/swagger-ui.css", 200),
    ("GET", "/nope", 404),
    ("DELETE", "/health", 405),
    ("GET", "/conversations", 401),
    ("POST", "/auth/login/begin", 400),
]


def _settings(tmp_path: Path, trusted: tuple[str, ...] = ()) -> Settings:
    settings = make_settings(tmp_path)
    server = msgspec.structs.replace(settings.server, trusted_proxies=trusted)
    return msgspec.structs.replace(settings, server=server)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(_settings(tmp_path))) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "status"), RESPONSES)
async def test_every_response_carries_the_security_headers(
    client: AsyncTestClient[Litestar], method: str, path: str, status: int
) -> None:
    body = b"{" if method == "POST" else None  # malformed JSON: an error from the body decoder
    headers = {"Content-Type": "application/json"} if body else {}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == status
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain HTTP
    # One value each: a handler's own header is not duplicated by the middleware.
    assert len(response.headers.get_list("content-security-policy")) == 1


async def test_the_client_page_and_its_static_copy_share_one_policy(
    client: AsyncTestClient[Litestar],
) -> None:
    for path in ("/client", "/client/static/index.html"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_redoc_gets_a_fresh_style_nonce_per_response(
    client: AsyncTestClient[Litestar],
) -> None:
    nonces = []
    for _ in range(2):
        response = await client.get("/redoc")
        policy = response.headers["content-security-policy"]
        nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
        assert f'data-style-nonce="{nonce}"' in response.text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    # The docs pages run no inline script: every <script> has a src.
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert html.count("<script") == html.count("<script src=")


@pytest.mark.parametrize(
    ("trusted", "forwarded_proto", "hsts"),
    [
        (("testclient",), "https", True),  # TLS ended at our proxy
        (("testclient",), "http", False),
        (("*",), "https", True),
        ((), "https", False),  # a client's own X-Forwarded-Proto is not believed
    ],
)
async def test_hsts_only_when_the_request_arrived_over_https(
    tmp_path: Path, trusted: tuple[str, ...], forwarded_proto: str, hsts: bool
) -> None:
    async with AsyncTestClient(create_app(_settings(tmp_path, trusted))) as client:
        response = await client.get(
            "/health",
            headers={"X-Forwarded-Proto": forwarded_proto, "X-Forwarded-For": "203.0.113.5"},
        )
    expected = f"max-age={HSTS_MAX_AGE_S}" if hsts else None
    assert response.headers.get("strict-transport-security") == expected


async def test_hsts_on_a_direct_https_request(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["strict-transport-security"] == f"max-age={HSTS_MAX_AGE_S}"
