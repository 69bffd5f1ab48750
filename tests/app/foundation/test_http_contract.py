"""The HTTP edge against the contract's error rules, endpoint by endpoint, through the real app.

Every JSON endpoint: wrong content type → 415, malformed JSON → 400 ``malformed_json`` with
where/why, unknown fields → 400 naming the field, empty body → 400. Errors on the SSE endpoints
are JSON responses, never a ``text/event-stream``. Every error body has a string ``detail``
and a string ``code``; ceremony details carry no library internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cbor2
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from webauthn.helpers import base64url_to_bytes

from app.auth.controller import CEREMONY_MAX_BODY_BYTES
from app.main import create_app
from app.settings import RateLimitSettings, ServerSettings
from tests.conftest import make_settings
from tests.support.webauthn import AuthedUser, SoftAuthenticator, b64u, login, signed_in_user

Client = AsyncTestClient[Litestar]
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"
MAX_BODY = 16_384
INTERNALS = ("__cause__", "Traceback", "webauthn.", "msgspec", "litestar", " object at 0x")


def assert_error(response: Any, status: int, code: str, fragment: str = "") -> dict[str, Any]:
    """The contract's error shape: JSON (not SSE), a human ``detail``, a stable ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("detail"), str), body
    assert isinstance(body.get("code"), str), body
    assert body["detail"].strip(), body
    assert body["code"] == code, body
    assert fragment.lower() in body["detail"].lower(), body
    for internal in INTERNALS:
        assert internal not in body["detail"], body
    return body


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    settings = make_settings(
        tmp_path,
        rate_limit=RateLimitSettings(ceremony_per_minute=10_000),
        server=ServerSettings(max_request_body_bytes=MAX_BODY),
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def ann(client: Client) -> AuthedUser:
    return await signed_in_user(client, "ann@example.org")


async def _json_endpoints(client: Client, user: AuthedUser) -> dict[str, str]:
    """Every endpoint that takes a JSON body → its HTTP method (paths with real ids)."""
    asked = await client.post("/ask", json={"question": QUESTION}, headers=user.headers)
    assert asked.status_code == 200, asked.text
    credentials = (await client.get("/auth/credentials", headers=user.headers)).json()
    credential_id = credentials["credentials"][0]["id"]
    return {
        "/ask": "POST",
        "/ask-stream": "POST",
        f"/conversations/{asked.json()['conversation_id']}/messages": "POST",
        "/auth/register/begin": "POST",
        "/auth/register/complete": "POST",
        "/auth/login/begin": "POST",
        "/auth/login/complete": "POST",
        "/auth/refresh-token": "POST",
        "/auth/credentials/complete": "POST",
        f"/auth/credentials/{credential_id}": "PATCH",
    }


async def test_wrong_content_type_is_415_on_every_json_endpoint(
    client: Client, ann: AuthedUser
) -> None:
    for path, method in (await _json_endpoints(client, ann)).items():
        text = await client.request(
            method,
            path,
            content=b'{"question": "hi"}',
            headers={**ann.headers, "content-type": "text/plain"},
        )
        assert_error(text, 415, "unsupported_media_type", "application/json")
        form = await client.request(method, path, data={"question": "hi"}, headers=ann.headers)
        assert_error(form, 415, "unsupported_media_type", "x-www-form-urlencoded")
    # A charset parameter or a +json type is still JSON.
    charset = await client.post(
        "/ask",
        content=b'{"question": "Footprint of 10 kWh?"}',
        headers={**ann.headers, "content-type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 200, charset.text


async def test_file_upload_with_wrong_content_type_is_415(client: Client, ann: AuthedUser) -> None:
    response = await client.post("/datasets", json={"file": "a,b\n1,2\n"}, headers=ann.headers)
    assert_error(response, 415, "unsupported_media_type", "multipart/form-data")


async def test_malformed_json_is_400_with_the_reason_on_every_json_endpoint(
    client: Client, ann: AuthedUser
) -> None:
    json_headers = {**ann.headers, "content-type": "application/json"}
    for path, method in (await _json_endpoints(client, ann)).items():
        broken = await client.request(method, path, content=b"{not json}", headers=json_headers)
        body = assert_error(broken, 400, "malformed_json", "Malformed JSON body: ")
        assert "byte 1" in body["detail"], body
        cut = await client.request(method, path, content=b'{"question": ', headers=json_headers)
        assert_error(cut, 400, "malformed_json", "ends before the JSON value is complete")


async def test_unknown_fields_are_rejected_naming_the_field(
    client: Client, ann: AuthedUser
) -> None:
    endpoints = await _json_endpoints(client, ann)
    conversation = next(path for path in endpoints if path.startswith("/conversations/"))
    credential = next(path for path, method in endpoints.items() if method == "PATCH")
    bodies: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/ask", {"question": QUESTION, "colour": "red"}),
        ("POST", "/ask-stream", {"question": QUESTION, "colour": "red"}),
        ("POST", conversation, {"question": QUESTION, "colour": "red"}),
        ("PATCH", credential, {"name": "Laptop", "colour": "red"}),
    ]
    for method, path, body in bodies:
        response = await client.request(method, path, json=body, headers=ann.headers)
        assert_error(response, 400, "validation_error", "unknown field `colour`")


async def test_legacy_auth_bodies_tolerate_extra_fields(client: Client, ann: AuthedUser) -> None:
    """The predecessor's clients may send extra keys to the ceremony and refresh calls (its
    pydantic models ignored them); those calls keep working."""
    register = await client.post(
        "/auth/register/begin", json={"email": "new@example.org", "display_name": "New"}
    )
    assert register.status_code == 200, register.text
    assert register.json()["user"]["name"] == "new@example.org"
    login_begin = await client.post(
        "/auth/login/begin", json={"email": "ann@example.org", "remember": True}
    )
    assert login_begin.status_code == 200, login_begin.text
    assert login_begin.json()["allowCredentials"]
    rotated = await client.post(
        "/auth/refresh-token", json={"refresh_token": ann.refresh_token, "device": "cli"}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != ann.refresh_token


async def test_empty_or_non_object_bodies_are_400(client: Client, ann: AuthedUser) -> None:
    json_headers = {**ann.headers, "content-type": "application/json"}
    for path in ("/ask", "/ask-stream", "/auth/register/begin", "/auth/login/complete"):
        empty = await client.post(path, content=b"", headers=json_headers)
        assert_error(empty, 400, "validation_error", "body is empty")
        array = await client.post(path, json=[1, 2], headers=ann.headers)
        assert_error(array, 400, "validation_error", "must be a JSON object")
    missing = await client.post("/ask", json={}, headers=ann.headers)
    assert_error(missing, 400, "validation_error", "missing required field `question`")
    # login/begin alone takes no body at all: usernameless sign-in.
    usernameless = await client.post("/auth/login/begin")
    assert usernameless.status_code == 200, usernameless.text
    assert usernameless.json()["allowCredentials"] == []


async def test_ceremony_and_token_endpoints_answer_200(client: Client) -> None:
    authenticator = SoftAuthenticator(origin="http://localhost:8000")
    begin = await client.post("/auth/register/begin", json={"email": "bo@example.org"})
    assert begin.status_code == 200, begin.text
    assert begin.json()["challenge"]
    complete = await client.post("/auth/register/complete", json=authenticator.create(begin.json()))
    assert complete.status_code == 200, complete.text
    assert complete.json()["message"] == "Registration successful"
    signed_in = await login(client, authenticator, "bo@example.org")
    assert signed_in["expires_in"] > 300
    by_header = await client.get(
        "/auth/refresh-token", headers={"Authorization": f"Bearer {signed_in['refresh_token']}"}
    )
    assert by_header.status_code == 200, by_header.text
    by_body = await client.post(
        "/auth/refresh-token", json={"refresh_token": by_header.json()["refresh_token"]}
    )
    assert by_body.status_code == 200, by_body.text
    logout = await client.post(
        "/auth/logout", headers={"Authorization": f"Bearer {by_body.json()['access_token']}"}
    )
    assert logout.status_code == 200, logout.text
    assert logout.json() == {"message": "Logged out successfully"}


async def test_conversations_with_and_without_slash_without_redirect(
    client: Client, ann: AuthedUser
) -> None:
    for path in ("/conversations", "/conversations/"):
        response = await client.get(path, headers=ann.headers, follow_redirects=False)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"conversations": []}


async def test_errors_on_sse_endpoints_are_json_before_any_stream(
    client: Client, ann: AuthedUser
) -> None:
    unauthenticated = await client.post("/ask-stream", json={"question": QUESTION})
    assert_error(unauthenticated, 401, "not_authenticated")
    not_an_id = await client.post(
        "/ask-stream", json={"question": QUESTION, "conversation_id": "nope"}, headers=ann.headers
    )
    assert_error(not_an_id, 400, "invalid_conversation_id", "positive integer")
    unknown = await client.post(
        "/ask-stream", json={"question": QUESTION, "conversation_id": 987654}, headers=ann.headers
    )
    assert_error(unknown, 404, "conversation_not_found")
    too_long = await client.post("/ask-stream", json={"question": "x" * 4001}, headers=ann.headers)
    assert_error(too_long, 400, "question_too_long", "4000")
    continued = await client.post(
        "/conversations/987654/messages", json={"question": QUESTION}, headers=ann.headers
    )
    assert_error(continued, 404, "conversation_not_found")
    not_a_path_id = await client.post(
        "/conversations/NaN/messages", json={"question": QUESTION}, headers=ann.headers
    )
    assert_error(not_a_path_id, 400, "invalid_conversation_id")
    events = await client.get("/runs/nope/events", headers=ann.headers)
    assert_error(events, 404, "run_not_found")
    no_auth_events = await client.get("/runs/nope/events")
    assert_error(no_auth_events, 401, "not_authenticated")


async def test_oversized_body_is_413_json(client: Client, ann: AuthedUser) -> None:
    # Over the app's limit, and over the ceremony endpoints' own 64 KiB limit.
    body = b'{"question": "' + b"x" * (CEREMONY_MAX_BODY_BYTES + 1) + b'"}'
    headers = {**ann.headers, "content-type": "application/json"}
    limits = {
        "/ask": MAX_BODY,
        "/ask-stream": MAX_BODY,
        "/auth/login/complete": CEREMONY_MAX_BODY_BYTES,
        "/auth/register/begin": CEREMONY_MAX_BODY_BYTES,
    }
    for path, limit in limits.items():
        response = await client.post(path, content=body, headers=headers)
        assert_error(response, 413, "payload_too_large", f"at most {limit} bytes")


async def test_unknown_routes_and_methods_are_json(client: Client, ann: AuthedUser) -> None:
    for path in ("/nope", "/conversations/x/y/z", "/auth/nope"):
        assert_error(await client.get(path, headers=ann.headers), 404, "not_found")
    for method, path in (("DELETE", "/ask"), ("PUT", "/conversations"), ("GET", "/ask-stream")):
        response = await client.request(method, path, headers=ann.headers)
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["allow"]


async def test_ceremony_failure_details_carry_no_library_internals(client: Client) -> None:
    authenticator = SoftAuthenticator(origin="http://localhost:8000")

    async def fresh_response() -> dict[str, Any]:
        """A valid RegistrationResponseJSON for a new challenge (each attempt consumes one)."""
        begin = await client.post("/auth/register/begin", json={"email": "cy@example.org"})
        assert begin.status_code == 200, begin.text
        return authenticator.create(begin.json())

    good = await fresh_response()
    bad_cbor = good | {"response": good["response"] | {"attestationObject": b64u(b"\xff\x00")}}
    done = await client.post("/auth/register/complete", json=bad_cbor)
    assert_error(done, 400, "registration_failed", "attestationObject was malformed")

    good = await fresh_response()
    bad_b64 = good | {"rawId": "!!not*base64!!"}
    done = await client.post("/auth/register/complete", json=bad_b64)
    assert_error(done, 400, "malformed_credential", "registration credential")

    bad_client_data = good | {"response": good["response"] | {"clientDataJSON": b64u(b"[]")}}
    done = await client.post("/auth/register/complete", json=bad_client_data)
    assert_error(done, 400, "malformed_credential", "clientDataJSON is malformed")

    good = await fresh_response()
    attestation = cbor2.loads(base64url_to_bytes(good["response"]["attestationObject"]))
    attestation["authData"] = attestation["authData"][:40]
    truncated = good | {
        "response": good["response"] | {"attestationObject": b64u(cbor2.dumps(attestation))}
    }
    done = await client.post("/auth/register/complete", json=truncated)
    assert_error(done, 400, "registration_failed")


async def test_sign_count_regression_detail_is_human(client: Client) -> None:
    authenticator = SoftAuthenticator(origin="http://localhost:8000")
    user = await signed_in_user(client, "dee@example.org", authenticator=authenticator)
    options = (await client.post("/auth/login/begin", json={"email": user.email})).json()
    credential = next(iter(authenticator.credentials.values()))
    stale = authenticator.get(options, sign_count=credential.sign_count)
    done = await client.post("/auth/login/complete", json=stale)
    assert_error(done, 400, "sign_count_regression", "sign count")
