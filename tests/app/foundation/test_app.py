"""The app shell: docs, JSON errors for every failure path, request ids, access logs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest
from litestar import Litestar, Request, get, post
from litestar.params import FromQuery, JSONBody
from litestar.response import ServerSentEvent
from litestar.testing import AsyncTestClient

from app.errors import DomainError
from app.logging import configure_logging, get_logger
from app.main import create_app
from app.settings import ConfigError, CorsSettings, LoggingSettings, ServerSettings, load_settings
from tests.conftest import make_settings
from tests.live_server import TEST_JWT_SECRET


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    count: int


@post("/_test/echo", opt={"exclude_from_auth": True}, sync_to_thread=False)
def echo(data: JSONBody[Payload]) -> dict[str, Any]:
    return {"name": data.name, "count": data.count}


@get("/_test/domain", opt={"exclude_from_auth": True}, sync_to_thread=False)
def domain_failure(kind: FromQuery[str] = "conflict") -> None:
    raise DomainError(409, "run_active", "A run is already active", run_id="r1")


@get("/_test/bug", opt={"exclude_from_auth": True}, sync_to_thread=False)
def bug() -> None:
    secret_detail = "db password is hunter2"
    raise RuntimeError(secret_detail)


@post("/_test/log", opt={"exclude_from_auth": True}, sync_to_thread=False)
def log_something(request: Request[Any, Any, Any]) -> dict[str, str]:
    # A careless caller passing a token as a field: the processor must mask it.
    get_logger("tests").info("handled", token="tok-should-be-masked", user="u1")
    return {"ok": "yes"}


@get("/_test/stream", opt={"exclude_from_auth": True}, sync_to_thread=False)
def stream() -> ServerSentEvent:
    return ServerSentEvent(iter(["one", "two", "three"]))


def with_test_routes(app: Litestar) -> Litestar:
    for handler in (echo, domain_failure, bug, log_something, stream):
        app.register(handler)
    return app


@pytest.fixture
def test_app(tmp_path: Path) -> Litestar:
    settings = make_settings(tmp_path, server=ServerSettings(max_request_body_bytes=2048))
    return with_test_routes(create_app(settings))


async def test_openapi_is_3_1_and_docs_are_served_without_cdn(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert "/health" in schema["paths"]
    for page in ("/docs", "/redoc"):
        html = await client.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert "/docs/assets/" in html.text
        assert "cdn." not in html.text
        assert "unpkg.com" not in html.text
        assert "fonts.googleapis.com" not in html.text
    asset = await client.get("/docs/assets/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000
    redoc = await client.get("/docs/assets/redoc/bundles/redoc.standalone.js")
    assert redoc.status_code == 200


async def test_unknown_route_is_json_404(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/nope", "/a/b/c", "/openapi.yaml", "/schema/nope"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["code"] == "not_found"
        assert body["detail"].startswith("Nothing is served at ")
        assert body["detail"].endswith("; the API is described at /docs.")
        assert body["request_id"] == response.headers["x-request-id"]
    assert (await client.get("/nope")).json()["detail"] == (
        "Nothing is served at /nope; the API is described at /docs."
    )


async def test_wrong_method_is_json_405(client: AsyncTestClient[Litestar]) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.json()["detail"] == "DELETE is not allowed on /health; use GET."
    assert "GET" in response.headers["allow"]
    ask = await client.get("/ask")
    assert ask.json()["detail"] == "GET is not allowed on /ask; use POST."


async def test_request_id_round_trip(client: AsyncTestClient[Litestar]) -> None:
    sent = await client.get("/health", headers={"X-Request-ID": "trace-abc.123"})
    assert sent.headers["x-request-id"] == "trace-abc.123"
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    # Unsafe ids (log injection) are replaced, not echoed.
    bad = await client.get("/health", headers={"X-Request-ID": 'x" injected=1'})
    assert bad.headers["x-request-id"] != 'x" injected=1'


async def test_validation_error_names_the_field(test_app: Litestar) -> None:
    async with AsyncTestClient(test_app) as client:
        response = await client.post("/_test/echo", json={"name": "a", "count": "many"})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error"
        assert "count" in body["detail"]
        assert any(error.get("key") == "count" for error in body["errors"])
        malformed = await client.post(
            "/_test/echo", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["code"] == "malformed_json"
        assert malformed.json()["detail"].startswith("Malformed JSON body: ")
        ok = await client.post("/_test/echo", json={"name": "a", "count": 2})
        assert ok.status_code == 201
        assert ok.json() == {"name": "a", "count": 2}


async def test_oversized_body_is_413(test_app: Litestar) -> None:
    async with AsyncTestClient(test_app) as client:
        response = await client.post("/_test/echo", json={"name": "x" * 5000, "count": 1})
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"


async def test_domain_error_and_bug(test_app: Litestar) -> None:
    async with AsyncTestClient(test_app) as client:
        domain = await client.get("/_test/domain")
        assert domain.status_code == 409
        body = domain.json()
        assert body["code"] == "run_active"
        assert body["detail"] == "A run is already active"
        assert body["run_id"] == "r1"
        crash = await client.get("/_test/bug")
        assert crash.status_code == 500
        assert crash.json() == {
            "detail": "Internal server error",
            "code": "internal_error",
            "request_id": crash.headers["x-request-id"],
        }
        assert "hunter2" not in crash.text


async def test_cors_is_an_exact_allowlist(tmp_path: Path) -> None:
    cors = CorsSettings(allow_origins=("https://app.example.org",))
    async with AsyncTestClient(create_app(make_settings(tmp_path, cors=cors))) as client:
        allowed = await client.get("/health", headers={"Origin": "https://app.example.org"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
        for origin in ("https://evil.example.org", "https://app.example.org.evil.com"):
            denied = await client.get("/health", headers={"Origin": origin})
            assert "access-control-allow-origin" not in denied.headers


async def test_configured_cors_origin_matches_exactly_and_wildcards_never_load(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[cors]\nallow_origins = ["https://app.example.org"]\n')
    env = {
        "JWT_SECRET": TEST_JWT_SECRET,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
    }
    settings = load_settings(config, env)
    lookalikes = (
        "https://evil.example.org",
        "https://app.example.org.evil.com",
        "https://evilapp.example.org",
        "http://app.example.org",
        "https://app.example.org:8443",
        "null",
    )
    async with AsyncTestClient(create_app(settings)) as client:
        allowed = await client.get("/health", headers={"Origin": "https://app.example.org"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
        preflight = await client.options(
            "/health",
            headers={
                "Origin": "https://app.example.org",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.org"
        for origin in lookalikes:
            denied = await client.get("/health", headers={"Origin": origin})
            assert "access-control-allow-origin" not in denied.headers, origin
            refused = await client.options(
                "/health", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
            )
            assert "access-control-allow-origin" not in refused.headers, origin
    # The wildcard that would have let https://evil.example.org in is refused at start-up.
    config.write_text('[cors]\nallow_origins = ["https://*.example.org"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, env)
    assert info.value.problems == [
        'cors.allow_origins: expected array of exact origins like "https://example.org" '
        "(scheme://host[:port] as browsers send it: no wildcard, path or trailing slash), "
        'got ["https://*.example.org"]'
    ]


async def test_access_log_has_fields_and_no_secrets(test_app: Litestar) -> None:
    buffer = io.StringIO()
    configure_logging(LoggingSettings(level="INFO", format="json"), stream=buffer)
    try:
        async with AsyncTestClient(test_app) as client:
            response = await client.post(
                "/_test/log?ticket=query-secret",
                json={"access_token": "body-secret", "password": "pw-secret"},
                headers={
                    "Authorization": "Bearer header-secret-token",
                    "Cookie": "session=cookie-secret",
                    "X-Request-ID": "req-42",
                },
            )
            assert response.status_code == 201
            await client.get("/nope")
    finally:
        configure_logging(LoggingSettings(level="WARNING", format="json"))
    text = buffer.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line.get("logger") == "app.access"]
    assert len(access) == 2
    first = access[0]
    assert first["method"] == "POST"
    assert first["path"] == "/_test/log"
    assert first["status"] == 201
    assert first["request_id"] == "req-42"
    assert isinstance(first["duration_ms"], float)
    assert access[1]["status"] == 404
    handled = next(line for line in lines if line.get("event") == "handled")
    assert handled["token"] == "***"
    assert handled["request_id"] == "req-42"
    for secret in (
        "header-secret-token",
        "Bearer",
        "cookie-secret",
        "body-secret",
        "pw-secret",
        "query-secret",
        "tok-should-be-masked",
    ):
        assert secret not in text


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_exception_logs_carry_no_local_variables(fmt: Literal["json", "console"]) -> None:
    buffer = io.StringIO()
    configure_logging(LoggingSettings(level="INFO", format=fmt), stream=buffer)
    try:
        access_token = "-".join(("local", "secret", "value"))  # not literal in the source
        try:
            raise ValueError(len(access_token))
        except ValueError as exc:
            get_logger("tests").error("failed", exc_info=exc)
    finally:
        configure_logging(LoggingSettings(level="WARNING", format="json"))
    text = buffer.getvalue()
    assert "ValueError" in text
    assert "local-secret-value" not in text


async def test_streamed_response_is_logged_once(test_app: Litestar) -> None:
    buffer = io.StringIO()
    configure_logging(LoggingSettings(level="INFO", format="json"), stream=buffer)
    try:
        async with AsyncTestClient(test_app) as client:
            response = await client.get("/_test/stream")
            assert response.text.count("data: ") == 3
    finally:
        configure_logging(LoggingSettings(level="WARNING", format="json"))
    access = [json.loads(line) for line in buffer.getvalue().splitlines() if '"app.access"' in line]
    assert [(line["path"], line["status"]) for line in access] == [("/_test/stream", 200)]
