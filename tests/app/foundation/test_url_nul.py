"""A NUL in a path or query parameter is a 400 on every route, on SQLite and PostgreSQL.

Issue 14, row 4: ``GET /datasets/a%00b``, ``/runs/a%00b`` (and cancel, ticket) and
``DELETE /auth/tokens/a%00b`` were 500s on PostgreSQL, whose text cannot hold NUL.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.backends import api_postgres_dsn, settings_on_each_backend
from tests.support.webauthn import signed_in_user

__all__ = ["api_postgres_dsn", "settings_on_each_backend"]

Client = AsyncTestClient[Litestar]


def text_path_operations(app: Litestar) -> list[tuple[str, str]]:
    """(method, path) of each operation with a string path parameter, that set to ``a%00b``."""
    found: list[tuple[str, str]] = []
    for path, item in app.openapi_schema.to_schema()["paths"].items():
        for method, operation in item.items():
            params: list[dict[str, Any]] = operation.get("parameters", [])
            texts = {
                p["name"]
                for p in params
                if p["in"] == "path" and p["schema"].get("type") == "string"
            }
            if texts:
                found.append((method.upper(), fill(path, texts)))
    return found


def fill(path: str, texts: set[str]) -> str:
    """``path`` with its string parameters set to ``a%00b`` and any other to ``1``."""
    return re.sub(r"\{([^}]+)\}", lambda m: "a%00b" if m[1] in texts else "1", path)


async def test_a_nul_in_a_path_parameter_is_400(client: Client) -> None:
    alice = await signed_in_user(client, "alice@example.org")
    operations = text_path_operations(client.app)
    assert ("GET", "/datasets/a%00b") in operations
    wrong: list[str] = []
    for method, url in operations:
        response = await client.request(method, url, headers=alice.headers)
        body = response.json()
        if response.status_code != 400 or body["code"] != "invalid_input":
            wrong.append(f"{method} {url}: {response.status_code} {body}")
    assert not wrong, "\n".join(wrong)


async def test_a_nul_in_the_query_string_is_400(client: Client) -> None:
    alice = await signed_in_user(client, "alice@example.org")
    response = await client.get("/conversations?limit=5&after=x%00", headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["detail"] == (
        "The URL's query string contains a NUL character (%00), which no parameter may hold."
    )
    assert (await client.get("/conversations?limit=5", headers=alice.headers)).status_code == 200
