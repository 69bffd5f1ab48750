"""The document served at /openapi.json is valid OpenAPI 3.1 (openapi-spec-validator).

Known defect, reported rather than hidden: Litestar 2.25's ``JWTAuth`` emits ``"name":
"Authorization"`` in its ``type: http`` security scheme (``components.securitySchemes.
BearerToken``), which OpenAPI 3.1 allows only for ``type: apiKey`` (litestar-org/litestar
#3642 and #5050). The whole-document test is therefore a strict xfail (it fails the run as
soon as the defect is gone, so the marker gets removed), and a second test checks that this is
the document's only violation, so any other one fails now.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openapi_spec_validator import OpenAPIV31SpecValidator

Client = AsyncTestClient[Litestar]
KNOWN_VIOLATION = (
    "components/securitySchemes/BearerToken: "
    "Unevaluated properties are not allowed ('name' was unexpected)"
)


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


@pytest.mark.xfail(strict=True, reason=f"Litestar 2.25 JWTAuth: {KNOWN_VIOLATION}")
async def test_openapi_json_is_valid_openapi_3_1(client: Client) -> None:
    assert violations(await served_document(client)) == []


async def test_the_bearer_scheme_name_is_the_only_violation(client: Client) -> None:
    assert violations(await served_document(client)) == [KNOWN_VIOLATION]
