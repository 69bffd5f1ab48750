"""Every route of the real app is protected unless it is on the explicit public list.

The list is asserted both ways: nothing public that is not listed, nothing listed that is
protected; and every protected route really answers an anonymous request with 401 +
``WWW-Authenticate: Bearer`` (the middleware rejects before the handler runs).
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

# (method, path) pairs that need no access token.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/client"),
    ("GET", "/test-stream"),
    ("POST", "/auth/register/begin"),
    ("POST", "/auth/register/complete"),
    ("POST", "/auth/login/begin"),
    ("POST", "/auth/login/complete"),
    ("GET", "/auth/refresh-token"),
    ("POST", "/auth/refresh-token"),
    # EventSource cannot send headers: authenticated by a short-lived run ticket instead.
    ("GET", "/runs/{run_id:str}/events"),
    # <img> cannot send headers either: grid plots, and run charts under unguessable ids.
    ("GET", "/images/{name:str}"),
    # Prometheus scrapes without a user: `[metrics] token` (a bearer secret of its own) or a
    # separate port guards it (tests/app/metrics/test_metrics_endpoint.py).
    ("GET", "/metrics"),
}
# Static files and Litestar's own schema pages (documentation only).
PUBLIC_TREES = ("/client/static/", "/docs/assets/", "/docs/ui/", "/schema")
MUST_EXIST = {p for p in PUBLIC if p[1].startswith(("/auth", "/health", "/openapi"))}


def http_routes(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            routes.append((str(method), route.path, handler))
    return routes


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or path.startswith(PUBLIC_TREES)


def sample_path(path: str) -> str:
    return re.sub(r"\{[^}:]+:(str|path|uuid|int)\}", "00000000-0000-0000-0000-000000000000", path)


async def test_exactly_the_listed_routes_are_public(client: AsyncTestClient[Litestar]) -> None:
    app = client.app
    routes = http_routes(app)
    seen = set()
    for method, path, handler in routes:
        if method == "OPTIONS":  # CORS preflight: never authenticated, never does anything
            continue
        seen.add((method, path))
        opted_out = bool(handler.opt.get("exclude_from_auth"))
        assert opted_out == is_public(method, path), f"{method} {path}: public={opted_out}"
    assert seen >= MUST_EXIST, MUST_EXIST - seen


async def test_protected_routes_refuse_anonymous_requests(
    client: AsyncTestClient[Litestar],
) -> None:
    checked = 0
    for method, path, _ in http_routes(client.app):
        if method in ("OPTIONS", "HEAD") or is_public(method, path):
            continue
        response = await client.request(method, sample_path(path), json={})
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.headers["www-authenticate"] == "Bearer", path
        assert response.json()["code"] == "not_authenticated", path
        checked += 1
    assert checked >= 8


async def test_public_pages_answer_without_a_token(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/health", "/openapi.json", "/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200, path
    schema = (await client.get("/openapi.json")).json()
    assert "BearerToken" in schema["components"]["securitySchemes"]


# Public operations that also take an access token when one is sent.
OPTIONALLY_AUTHENTICATED = {("POST", "/auth/register/begin"), ("GET", "/runs/{run_id}/events")}


async def test_the_document_says_which_operations_need_a_token(
    client: AsyncTestClient[Litestar],
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["security"] == [{"BearerToken": []}]
    listed = {(method, re.sub(r":\w+\}", "}", path)) for method, path in PUBLIC}
    seen = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            key = (method.upper(), path)
            security = operation.get("security")
            if key in OPTIONALLY_AUTHENTICATED:
                assert security == [{"BearerToken": []}, {}], key
            elif key in listed:
                assert security == [{}], key  # overrides the global bearer requirement
            else:
                assert security is None, key  # inherits it
            seen += 1
    assert seen >= 30
