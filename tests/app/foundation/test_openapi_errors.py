"""The OpenAPI document declares every route's error responses with the one real error shape.

The document is checked against the app's own route handlers (which routes are public), and
real error responses are decoded into :class:`ErrorBody` with unknown fields forbidden, so a
drift between the documented and the sent shape fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from httpx import Response
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from app.errors import error_response
from app.main import create_app
from app.openapi_errors import SIGN_IN_REQUIRED, ErrorBody, FieldError, error_responses
from app.settings import RateLimitSettings
from tests.conftest import make_settings
from tests.support.webauthn import signed_in_user

Client = AsyncTestClient[Litestar]
ERROR_BODY_REF = "#/components/schemas/ErrorBody"
# 4xx/5xx responses whose body is not an error: the health routes answer 503 with their report.
REPORTS = {("GET", "/health", "503"), ("GET", "/health/ready", "503")}
SSE = "text/event-stream"
# The headers the error responses of these statuses document (and send: see the fuzz test).
EXPECTED_HEADERS = {"401": {"WWW-Authenticate"}, "429": {"Retry-After"}, "503": {"Retry-After"}}


def openapi_path(path: str) -> str:
    """``/runs/{run_id:str}`` → ``/runs/{run_id}``; no trailing slash (as in the document)."""
    path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)
    return path.rstrip("/") or "/"


def documented_handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    """(method, document path) → handler, for every handler included in the schema."""
    handlers: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if method in ("OPTIONS", "HEAD") or not handler.resolve_include_in_schema():
                continue
            handlers[(str(method), openapi_path(route.path))] = handler
    return handlers


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_error_responses_helper_always_adds_500_and_keeps_descriptions() -> None:
    specs = error_responses(401, (404, "No such run"))
    assert sorted(specs) == [401, 404, 500]
    assert specs[401].description == SIGN_IN_REQUIRED
    assert specs[404].description == "No such run"
    assert all(spec.data_container is ErrorBody for spec in specs.values())
    with pytest.raises(ValueError, match="not an error status"):
        error_responses(302)


async def test_every_error_response_has_the_error_body(
    client: Client, document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]
    error_body = schemas["ErrorBody"]
    assert set(error_body["properties"]) == {
        f.encode_name for f in msgspec.structs.fields(ErrorBody)
    }
    assert sorted(error_body["required"]) == ["code", "detail"]
    field_error = resolve(document, error_body["properties"]["errors"]["oneOf"][0]["items"])
    assert set(field_error["properties"]) == {"key", "message", "source"}
    # Litestar's default error shape is gone from the document.
    assert "status_code" not in str(document["paths"])

    checked = 0
    for (method, path), operation in operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) < 400 or (method, path, status) in REPORTS:
                continue
            assert response["description"], f"{method} {path} {status}"
            content = response.get("content", {})
            assert list(content) == ["application/json"], f"{method} {path} {status}"
            schema = content["application/json"]["schema"]
            assert schema == {"$ref": ERROR_BODY_REF}, f"{method} {path} {status}: {schema}"
            assert resolve(document, schema) is error_body
            assert set(response.get("headers", {})) == EXPECTED_HEADERS.get(status, set()), (
                f"{method} {path} {status}"
            )
            checked += 1
        assert "500" in operation["responses"], f"{method} {path}"
    assert checked >= 100


async def test_declared_statuses_follow_auth_path_and_body(
    client: Client, document: dict[str, Any]
) -> None:
    handlers = documented_handlers(client.app)
    ops = operations(document)
    assert set(ops) == set(handlers)
    protected = 0
    for key, operation in ops.items():
        where = " ".join(key)
        responses = operation["responses"]
        public = bool(handlers[key].opt.get("exclude_from_auth"))
        if public:
            # A public route may refuse its own credential (a refresh token, a run ticket),
            # never the access token it does not ask for.
            description = responses.get("401", {}).get("description", "")
            assert not description.startswith(SIGN_IN_REQUIRED), where
        else:
            # Routes that create a run add `unknown_user` (the account vanished meanwhile).
            assert responses["401"]["description"].startswith(SIGN_IN_REQUIRED), where
            protected += 1
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in responses, where
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), where
        success = responses[next(iter(responses))].get("content", {})
        if SSE in success and any(400 <= int(status) < 500 for status in responses):
            assert "before the stream starts" in operation.get("description", ""), where
    assert protected >= 15
    for page in (("GET", "/health"), ("GET", "/health/ready"), ("GET", "/test-stream")):
        assert "401" not in ops[page]["responses"], page
    assert {"400", "401", "429"} <= set(ops[("POST", "/auth/refresh-token")]["responses"])
    health_503 = ops[("GET", "/health")]["responses"]["503"]["content"]["application/json"]
    assert health_503["schema"] == {"$ref": "#/components/schemas/HealthReport"}
    assert "headers" not in ops[("GET", "/health")]["responses"]["503"]


async def test_error_headers_are_documented_with_their_schema(document: dict[str, Any]) -> None:
    responses = operations(document)[("POST", "/auth/login/begin")]["responses"]
    retry_after = responses["429"]["headers"]["Retry-After"]
    assert retry_after["schema"] == {"type": "integer", "minimum": 1}
    assert retry_after["description"] == "Seconds to wait before trying again."
    assert retry_after["required"] is True
    runs = operations(document)[("GET", "/runs")]["responses"]
    challenge = runs["401"]["headers"]["WWW-Authenticate"]
    assert challenge["schema"] == {"type": "string", "const": "Bearer"}
    assert challenge["required"] is True


def assert_documented_error(
    response: Response, document: dict[str, Any], method: str, path: str
) -> ErrorBody:
    """The response's status is declared for the operation and its body decodes strictly."""
    declared = operations(document)[(method, path)]["responses"]
    assert str(response.status_code) in declared, f"{method} {path}: {response.status_code}"
    assert response.headers["content-type"].startswith("application/json")
    body = msgspec.json.decode(response.content, type=ErrorBody)
    assert body.request_id == response.headers["x-request-id"]
    for name in declared[str(response.status_code)].get("headers", {}):
        assert response.headers.get(name), f"{method} {path}: no {name} header"
    return body


async def test_real_errors_match_the_documented_shape(
    client: Client, document: dict[str, Any]
) -> None:
    anonymous = await client.get("/runs")
    assert anonymous.status_code == 401
    body = assert_documented_error(anonymous, document, "GET", "/runs")
    assert body.code == "not_authenticated"

    user = await signed_in_user(client, "openapi@example.org")
    plain = await client.post(
        "/ask", content=b"question", headers={**user.headers, "content-type": "text/plain"}
    )
    assert plain.status_code == 415
    assert assert_documented_error(plain, document, "POST", "/ask").code == (
        "unsupported_media_type"
    )

    invalid = await client.post("/ask", json={"question": 1, "extra": 2}, headers=user.headers)
    assert invalid.status_code == 400
    body = assert_documented_error(invalid, document, "POST", "/ask")
    assert body.code == "validation_error"
    assert isinstance(body.errors, list)
    assert body.errors
    assert all(isinstance(error, FieldError) for error in body.errors)

    malformed = await client.post(
        "/ask", content=b"{", headers={**user.headers, "content-type": "application/json"}
    )
    assert assert_documented_error(malformed, document, "POST", "/ask").code == "malformed_json"

    unknown = await client.get("/runs/00000000000000000000000000", headers=user.headers)
    assert unknown.status_code == 404
    assert assert_documented_error(unknown, document, "GET", "/runs/{run_id}").code == (
        "run_not_found"
    )

    bad_limit = await client.get("/runs?limit=0", headers=user.headers)
    assert bad_limit.status_code == 400
    body = assert_documented_error(bad_limit, document, "GET", "/runs")
    assert isinstance(body.errors, list)
    assert [error.source for error in body.errors] == ["query"]

    no_ticket = await client.get("/runs/00000000000000000000000000/events")
    assert no_ticket.status_code == 401
    assert_documented_error(no_ticket, document, "GET", "/runs/{run_id}/events")

    refresh = await client.post("/auth/refresh-token", json={"refresh_token": "nope"})
    assert refresh.status_code == 401
    assert_documented_error(refresh, document, "POST", "/auth/refresh-token")

    too_large = await client.post(
        "/auth/login/complete",
        content=b'{"id": "' + b"x" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert too_large.status_code == 413
    assert_documented_error(too_large, document, "POST", "/auth/login/complete")


async def test_rate_limited_ceremony_matches_the_documented_shape(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit=RateLimitSettings(ceremony_per_minute=1))
    async with AsyncTestClient(create_app(settings)) as client:
        document = (await client.get("/openapi.json")).json()
        assert (await client.post("/auth/login/begin", json={})).status_code == 200
        limited = await client.post("/auth/login/begin", json={})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        body = assert_documented_error(limited, document, "POST", "/auth/login/begin")
        assert body.code == "rate_limited"


def test_error_responses_carry_their_status_headers_unless_set() -> None:
    assert error_response(401, "x", "d").headers["WWW-Authenticate"] == "Bearer"
    assert error_response(503, "starting", "d").headers["Retry-After"] == "1"
    assert error_response(429, "x", "d", headers={"Retry-After": "7"}).headers["Retry-After"] == "7"
    assert "Retry-After" not in error_response(404, "not_found", "d").headers


async def test_login_begin_documents_its_optional_body(
    client: Client, document: dict[str, Any]
) -> None:
    body = operations(document)[("POST", "/auth/login/begin")]["requestBody"]
    assert body["required"] is False
    schema = body["content"]["application/json"]["schema"]
    email, null = schema["properties"]["email"]["oneOf"]
    assert null == {"type": "null"}
    # The endpoint accepts exactly the emails the documented schema allows.
    longest = "x" * (email["maxLength"] - 2) + "@b"
    for value in ("a@b", longest, longest + "x", "no-at-sign", "a @b", "@b", None):
        documented = value is None or (
            email["minLength"] <= len(value) <= email["maxLength"]
            and re.search(email["pattern"], value) is not None
        )
        response = await client.post("/auth/login/begin", json={"email": value})
        assert response.status_code == (200 if documented else 400), value
    assert (await client.post("/auth/login/begin")).status_code == 200  # no body at all
