"""The document served at /openapi.json is valid OpenAPI 3.1 (openapi-spec-validator).

It also guards the fix for Litestar 2.25's ``JWTAuth``, which puts ``"name"`` on a
``type: http`` security scheme (allowed only for ``apiKey``; litestar-org/litestar#3642).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from openapi_spec_validator import OpenAPIV31SpecValidator

Client = AsyncTestClient[Litestar]


async def served_document(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    assert document["openapi"] == "3.1.0"
    return document


def violations(document: dict[str, Any]) -> list[str]:
    """Every validation error, as ``path/in/document: message``."""
    return sorted(
        "/".join(str(part) for part in error.absolute_path) + f": {error.message}"
        for error in OpenAPIV31SpecValidator(document).iter_errors()
    )


async def test_openapi_json_is_valid_openapi_3_1(client: Client) -> None:
    document = await served_document(client)
    assert violations(document) == []
    bearer = document["components"]["securitySchemes"]["BearerToken"]
    assert bearer == {
        "type": "http",
        "scheme": "Bearer",
        "bearerFormat": "JWT",
        "description": bearer["description"],
    }
