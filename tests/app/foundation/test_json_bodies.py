"""Every JSON body goes through one decoder: harmful JSON is a 400, on SQLite and PostgreSQL.

Issue 14, rows 3 and 4: nesting past ~1,000 levels (RecursionError) and invalid UTF-8 inside
a string (UnicodeDecodeError) were 500s on all ten JSON-body endpoints, and a NUL in a text
field reached PostgreSQL (500, with the SQL parameters in the log). The operations come from
the OpenAPI document, so an endpoint added later is covered without editing this test.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import RateLimitSettings, Settings
from tests.support.backends import api_postgres_dsn, settings_on_each_backend
from tests.support.webauthn import AuthedUser, signed_in_user

__all__ = ["api_postgres_dsn", "settings_on_each_backend"]

Client = AsyncTestClient[Litestar]

HARMFUL: dict[str, tuple[bytes, str]] = {
    "nested past the recursion limit": (b"[" * 5_000 + b"]" * 5_000, "invalid_input"),
    "nested past max_json_depth": (b'{"a": ' * 40 + b"1" + b"}" * 40, "invalid_input"),
    "invalid UTF-8 in a string": (b'{"email": "\xff\xfe@example.org"}', "malformed_json"),
    "a NUL in every text field": (
        b'{"email": "a\\u0000@example.org", "question": "what\\u0000 is it?", '
        b'"name": "key\\u0000", "refresh_token": "t\\u0000"}',
        "invalid_input",
    ),
    "an integer of 5,000 digits": (b'{"n": 1' + b"0" * 5_000 + b"}", "invalid_input"),
}


def json_body_operations(app: Litestar) -> list[tuple[str, str]]:
    """(method, path with every parameter set to 1) of each operation that takes JSON."""
    schema = app.openapi_schema.to_schema()
    found: list[tuple[str, str]] = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    """The app on the parametrized backend, without a practical sign-in rate limit."""
    unlimited = RateLimitSettings(ceremony_per_minute=100_000)
    app = create_app(msgspec.structs.replace(settings, rate_limit=unlimited))
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def alice(client: Client) -> AuthedUser:
    return await signed_in_user(client, "alice@example.org")


async def test_harmful_json_is_a_400_on_every_json_endpoint(
    client: Client, alice: AuthedUser
) -> None:
    operations = json_body_operations(client.app)
    assert len(operations) >= 10, operations
    wrong: list[str] = []
    for method, path in operations:
        for label, (body, code) in HARMFUL.items():
            response = await client.request(
                method,
                path,
                content=body,
                headers={**alice.headers, "Content-Type": "application/json"},
            )
            got: Any = response.json() if response.content else None
            if response.status_code != 400 or not isinstance(got, dict) or got["code"] != code:
                wrong.append(f"{method} {path} with {label}: {response.status_code} {got}")
            elif not got["detail"]:
                wrong.append(f"{method} {path} with {label}: no detail")
    assert not wrong, "\n".join(wrong)


async def test_the_reason_is_in_the_detail(client: Client) -> None:
    response = await client.post(
        "/auth/login/begin",
        content=b'{"email": "a\\u0000@example.org"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert "NUL" in response.json()["detail"]
    deep = await client.post(
        "/auth/register/begin",
        content=b"[" * 33 + b"]" * 33,
        headers={"Content-Type": "application/json"},
    )
    assert deep.json()["detail"] == (
        "Invalid JSON body: arrays and objects are nested more than 32 levels deep."
    )
