"""Mangled WebAuthn payloads never cause a 500: every field replaced or removed, one by one.

Each mutation is applied to a fresh, valid response (its own challenge), so it reaches as deep
into verification as it can. It must get a JSON 4xx with a ``detail`` and a ``code``, or a 200
when the change is harmless (e.g. extension results). Backend independent: SQLite only.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import AuthSettings, RateLimitSettings
from app.state import get_settings
from tests.conftest import make_settings
from tests.live_server import TEST_JWT_SECRET
from tests.support.webauthn import SoftAuthenticator, register

Client = AsyncTestClient[Litestar]
# "éé": not ASCII, so not base64url either (py_webauthn raised a bare ValueError: a 500 the
# fuzz tier found on /auth/login/complete).
REPLACEMENTS: tuple[Any, ...] = (None, 7, "", "!!!", "éé", "A" * 3000, [], {"x": 1}, True)
DELETE = object()


def paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))


def mutate(payload: dict[str, Any], path: tuple[str, ...], replacement: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(payload)
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if replacement is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return mutated


async def assert_never_500(
    client: Client, url: str, fresh: Callable[[], Any], sample: dict[str, Any]
) -> int:
    checked = 0
    for path, replacement in itertools.product(list(paths(sample)), (*REPLACEMENTS, DELETE)):
        payload = await fresh()
        response = await client.post(url, json=mutate(payload, path, replacement))
        label = f"{'.'.join(path)} <- {replacement!r:.20}"
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
        if response.status_code != 200:
            body = response.json()
            assert body["detail"], label
            assert body["code"], label
        checked += 1
    return checked


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """SQLite app without a practical ceremony rate limit or per-client challenge cap
    (hundreds of calls follow, most leaving their challenge pending)."""
    settings = make_settings(
        tmp_path,
        auth=AuthSettings(jwt_secret=TEST_JWT_SECRET, max_pending_challenges_per_client=10_000),
        rate_limit=RateLimitSettings(ceremony_per_minute=100_000, account_per_minute=100_000),
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


async def test_mangled_registration_and_authentication_responses(client: Client) -> None:
    authenticator = SoftAuthenticator(origin=get_settings(client.app.state).allowed_origins()[0])
    emails = (f"fuzz-{i}@example.org" for i in itertools.count())

    async def fresh_registration() -> dict[str, Any]:
        begin = await client.post("/auth/register/begin", json={"email": next(emails)})
        return authenticator.create(begin.json())

    async def fresh_assertion() -> dict[str, Any]:
        begin = await client.post("/auth/login/begin", json={"email": "ann@example.org"})
        return authenticator.get(begin.json(), credential_id=ann_credential)

    sample = await fresh_registration()
    checked = await assert_never_500(client, "/auth/register/complete", fresh_registration, sample)

    ann = SoftAuthenticator(origin=authenticator.origin)
    await register(client, "ann@example.org", ann)
    authenticator = ann
    [ann_credential] = ann.credentials
    sample = await fresh_assertion()
    checked += await assert_never_500(client, "/auth/login/complete", fresh_assertion, sample)
    assert checked > 150
