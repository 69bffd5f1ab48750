"""The OpenAPI document and the server agree: what the document allows is accepted, what it
refuses is refused, and ``OPTIONS`` lists what the document lists.

Schemas are read the way the document's consumers read them: with ``jsonschema_rs`` (an
independent JSON Schema 2020-12 validator with ECMAScript-style regexes), not with Python's
``re``, whose ``\\s`` and ``$`` differ. Each test here failed before the fixes of issue 14,
row 14 (the audit's 17 schemathesis failures).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.openapi_contract import closed_structs
from app.runs.controller import MAX_OFFSET
from app.settings import RateLimitSettings, Settings
from tests.app.foundation.test_openapi_errors import operations, resolve
from tests.conftest import make_settings
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]
# The characters where Python's and ECMAScript's regex dialects (and str.strip) disagree.
TRICKY = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x00\x7f\x85\xa0\u1680\u2000\u2028\u202f\u3000\ufeff@a.é٥_-+"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings without the sign-in rate limit (the email test sends ~150 begins)."""
    return make_settings(tmp_path, rate_limit=RateLimitSettings(ceremony_per_minute=100_000))


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/openapi.json")).json()
    return body


@pytest.fixture
async def user(client: Client) -> AuthedUser:
    return await signed_in_user(client, "contract@example.org")


def validator(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(schema)


def property_schema(document: dict[str, Any], component: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][component]["properties"][name]
    return schema


def parameter_schema(document: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    operation = operations(document)[(method, path)]
    schema: dict[str, Any] = next(p["schema"] for p in operation["parameters"] if p["name"] == name)
    return schema


async def test_options_lists_every_documented_method_of_the_path(
    client: Client, document: dict[str, Any]
) -> None:
    # Before: GET+POST /auth/refresh-token answered `Allow: OPTIONS, POST`, and the passkey
    # and token paths answered OPTIONS with a 500 (their guard read an unset `auth`).
    checked = 0
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item if method != "parameters"}
        url = path.replace("{", "").replace("}", "")  # any value fits a path parameter
        response = await client.options(url)
        assert response.status_code == 204, f"OPTIONS {path}: {response.text}"
        assert set(response.headers["allow"].split(", ")) == documented | {"OPTIONS"}, path
        checked += 1
    assert checked >= 25
    # With an access token too (OPTIONS is never authenticated).
    user = await signed_in_user(client, "options@example.org")
    response = await client.options("/auth/credentials", headers=user.headers)
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, OPTIONS"


async def test_bodies_that_refuse_unknown_fields_are_documented_as_closed(
    client: Client, document: dict[str, Any], user: AuthedUser
) -> None:
    schemas = document["components"]["schemas"]
    closed = closed_structs()
    documented_closed = {
        name for name, schema in schemas.items() if schema.get("additionalProperties") is False
    }
    for name in ("AskRequest", "ContinueRequest", "RenameCredentialRequest", "CreateTokenRequest"):
        assert name in closed
        assert name in documented_closed, name
    # ... and the server refuses the extra field the document now forbids (PATCH included).
    passkeys = (await client.get("/auth/credentials", headers=user.headers)).json()
    passkey_id = passkeys["credentials"][0]["id"]
    renamed = await client.patch(
        f"/auth/credentials/{passkey_id}", json={"name": "Laptop", "x": 1}, headers=user.headers
    )
    assert renamed.status_code == 400
    assert renamed.json()["code"] == "validation_error"
    body = schemas["RenameCredentialRequest"]
    assert not validator(body).is_valid({"name": "Laptop", "x": 1})
    assert validator(body).is_valid({"name": "Laptop"})


def _integer_schemas(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "integer":
            found.append(node)
        for child in node.values():
            found.extend(_integer_schemas(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(_integer_schemas(child))
    return found


async def test_integer_bounds_are_exact_integers_the_server_honours(
    client: Client, document: dict[str, Any], user: AuthedUser
) -> None:
    integers = _integer_schemas(document)
    assert len(integers) >= 5
    for schema in integers:
        for key in ("minimum", "maximum"):
            assert not isinstance(schema.get(key), float), schema
    offset = parameter_schema(document, "GET", "/runs", "offset")
    assert offset["maximum"] == MAX_OFFSET == 2**53 - 1
    # Before: the maximum was 9.223372036854776e+18, and 9223372036854775999 fitted it.
    largest = await client.get(f"/runs?offset={offset['maximum']}", headers=user.headers)
    assert largest.status_code == 200
    assert largest.json()["runs"] == []
    beyond = await client.get(f"/runs?offset={offset['maximum'] + 1}", headers=user.headers)
    assert beyond.status_code == 400
    after = parameter_schema(document, "GET", "/runs/{run_id}/events", "after")
    assert (after["minimum"], after["maximum"]) == (0, MAX_OFFSET)


QUESTIONS = (
    "",
    " ",
    "\t\n",
    "\u3000",
    "\x1c",
    "\x85",
    "\ufeff",
    "?",
    " a ",
    "x" * 4000,
    "x" * 4001,
)


@pytest.mark.parametrize("path", ["/ask", "/conversations/{conversation_id}/messages"])
async def test_a_question_is_accepted_exactly_when_the_document_allows_it(
    client: Client, document: dict[str, Any], user: AuthedUser, path: str
) -> None:
    component = "AskRequest" if path == "/ask" else "ContinueRequest"
    schema = validator(property_schema(document, component, "question"))
    url = path
    if "{" in path:
        first = (await client.post("/ask", json={"question": "hi"}, headers=user.headers)).json()
        url = f"/conversations/{first['conversation_id']}/messages"
    for question in QUESTIONS:
        response = await client.post(url, json={"question": question}, headers=user.headers)
        documented = schema.is_valid(question)
        assert (response.status_code < 400) == documented, (repr(question[:10]), response.text)
        if not documented:
            assert response.json()["code"] in ("invalid_question", "question_too_long")


@examples(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(email=st.text(alphabet=st.sampled_from(TRICKY), max_size=8) | st.sampled_from(["", "a@b"]))
async def test_an_email_is_accepted_exactly_when_the_document_allows_it(
    client: Client, email: str
) -> None:
    # Before: the schema said `^[^@\s]+@[^@\s]+$` read by Python: "a@b\n", "a\x1c@b" and
    # "a\ufeff@b" were judged differently, and {"email": ""} was a usernameless sign-in.
    document = (await client.get("/openapi.json")).json()
    schema = operations(document)[("POST", "/auth/login/begin")]["requestBody"]["content"]
    body_schema = validator(schema["application/json"]["schema"])
    response = await client.post("/auth/login/begin", json={"email": email})
    documented = body_schema.is_valid({"email": email})
    assert response.status_code == (200 if documented else 400), (repr(email), response.text)
    register = validator(document["components"]["schemas"]["EmailRequest"])
    assert register.is_valid({"email": email}) == documented


async def test_login_begin_refuses_an_empty_email(client: Client) -> None:
    response = await client.post("/auth/login/begin", json={"email": ""})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert (await client.post("/auth/login/begin", json={"email": None})).status_code == 200
    # No body is a usernameless sign-in; a body of whitespace is not JSON.
    assert (await client.post("/auth/login/begin")).status_code == 200
    blank = await client.post(
        "/auth/login/begin", content=b"\r\n", headers={"content-type": "application/json"}
    )
    assert blank.status_code == 400
    assert blank.json()["code"] == "malformed_json"


async def test_credential_bodies_are_typed_webauthn_json(document: dict[str, Any]) -> None:
    # Before: `{"type": "object", "additionalProperties": {}}`, so any object was "valid".
    expected = {
        "/auth/register/complete": {"clientDataJSON", "attestationObject"},
        "/auth/credentials/complete": {"clientDataJSON", "attestationObject"},
        "/auth/login/complete": {"clientDataJSON", "authenticatorData", "signature"},
    }
    for path, response_fields in expected.items():
        body = operations(document)[("POST", path)]["requestBody"]["content"]
        schema = resolve(document, body["application/json"]["schema"])
        assert sorted(schema["required"]) == ["id", "rawId", "response", "type"], path
        assert schema["properties"]["type"]["const"] == "public-key"
        assert set(schema["properties"]["response"]["required"]) == response_fields
        assert not validator(schema).is_valid({"x-extra": {}})


LAST_EVENT_IDS = ("", "  ", "3", " 3 ", "007", "abc", "null", "+3", "-1", "3_0", "٣", "1" * 16)


async def test_last_event_id_is_accepted_exactly_when_the_document_allows_it(
    client: Client, document: dict[str, Any], user: AuthedUser
) -> None:
    schema = validator(parameter_schema(document, "GET", "/runs/{run_id}/events", "last-event-id"))
    run_id = (await client.post("/ask", json={"question": "hi"}, headers=user.headers)).json()[
        "run_id"
    ]
    for value in LAST_EVENT_IDS:
        # As bytes: httpx encodes str headers as ASCII, and "٣" is not.
        headers = [(b"Authorization", user.headers["Authorization"].encode())]
        headers.append((b"Last-Event-ID", value.encode()))
        response = await client.get(f"/runs/{run_id}/events", headers=headers)
        documented = schema.is_valid(value)
        assert (response.status_code == 200) == documented, (value, response.text[:200])
        if not documented:
            assert response.json()["code"] == "invalid_last_event_id"
        # ?after= wins over the header, but does not make a malformed header acceptable.
        with_after = await client.get(f"/runs/{run_id}/events?after=1", headers=headers)
        assert (with_after.status_code == 200) == documented, (value, with_after.text[:200])


CONVERSATION_IDS = ("42", " 42", "-1", "0", "9" * 40, "9" * 41, "4_2", "٤٢", "x", "4.2", "+4")


async def test_a_conversation_id_is_accepted_exactly_when_the_document_allows_it(
    client: Client, document: dict[str, Any], user: AuthedUser
) -> None:
    path_schema = validator(
        parameter_schema(document, "GET", "/conversations/{conversation_id}", "conversation_id")
    )
    body_schema = validator(property_schema(document, "AskRequest", "conversation_id"))
    for value in CONVERSATION_IDS:
        response = await client.get(f"/conversations/{value}", headers=user.headers)
        documented = path_schema.is_valid(value)
        # A well-formed id of no conversation is a 404; a malformed one a 400.
        assert response.status_code == (404 if documented else 400), (value, response.text)
        asked = await client.post(
            "/ask", json={"question": "hi", "conversation_id": value}, headers=user.headers
        )
        assert body_schema.is_valid(value) == documented
        assert asked.status_code == (404 if documented else 400), (value, asked.text)
    for number in (-(2**63), 2**64, 10**100):
        assert body_schema.is_valid(number)
        asked = await client.post(
            "/ask",
            content=json.dumps({"question": "hi", "conversation_id": number}),
            headers={**user.headers, "content-type": "application/json"},
        )
        assert asked.status_code == 404, (number, asked.text)


async def test_links_lead_from_a_created_resource_to_its_operations(
    client: Client, document: dict[str, Any], user: AuthedUser
) -> None:
    operation_ids = {
        operation["operationId"]: (method.upper(), path)
        for (method, path), operation in operations(document).items()
    }
    links = operations(document)[("POST", "/ask")]["responses"]["200"]["links"]
    targets = {operation_ids[link["operationId"]] for link in links.values()}
    assert ("GET", "/runs/{run_id}") in targets
    assert ("POST", "/conversations/{conversation_id}/messages") in targets
    # Following a link with a real response reaches the resource.
    asked = (await client.post("/ask", json={"question": "hi"}, headers=user.headers)).json()
    for link in links.values():
        method, path = operation_ids[link["operationId"]]
        for name, expression in link["parameters"].items():
            pointer = expression.removeprefix("$response.body#/")
            path = path.replace(f"{{{name}}}", str(asked[pointer]))
        if method == "GET" and not path.endswith("/events"):
            assert (await client.get(path, headers=user.headers)).status_code == 200, path
    for source in (("POST", "/datasets"), ("GET", "/auth/credentials"), ("POST", "/auth/tokens")):
        responses = operations(document)[source]["responses"]
        success = next(status for status in responses if status.startswith("2"))
        for link in responses[success]["links"].values():
            assert link["operationId"] in operation_ids, (source, link)
