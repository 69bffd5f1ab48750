"""Personal access tokens through the real app, on SQLite and PostgreSQL: create, list,
revoke, what a token may and may not do, expiry, ``last_used_at`` and cross-worker revocation.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.auth.models import PersonalAccessToken
from app.auth.personal_tokens import MAX_ACTIVE_TOKENS, PAT_PREFIX
from app.db.engine import create_engine
from app.main import create_app
from app.settings import Settings
from tests.support.sse import parse_sse
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


async def create_token(client: Client, user: AuthedUser, **body: Any) -> dict[str, Any]:
    response = await client.post("/auth/tokens", json={"name": "ci", **body}, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored_token(settings: Settings, token_id: str) -> PersonalAccessToken:
    engine = create_engine(settings.database)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(PersonalAccessToken).where(PersonalAccessToken.id == token_id)
                )
            ).one()
    finally:
        await engine.dispose()
    return PersonalAccessToken(**row._mapping)


async def set_columns(settings: Settings, token_id: str, **values: Any) -> None:
    engine = create_engine(settings.database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(PersonalAccessToken)
                .where(PersonalAccessToken.id == token_id)
                .values(**values)
            )
    finally:
        await engine.dispose()


async def test_the_secret_is_shown_once_and_stored_only_as_its_hash(
    auth_client: Client, auth_settings: Settings
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    before = datetime.now(UTC)
    created = await create_token(auth_client, ann, name="  nightly report  ", expires_in_days=7)
    assert set(created) == {
        "id",
        "name",
        "token",
        "hint",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert created["name"] == "nightly report"
    assert created["token"].startswith(PAT_PREFIX)
    assert len(created["token"]) == len(PAT_PREFIX) + 43
    assert created["hint"] == created["token"][-4:]
    assert created["last_used_at"] is None
    expires = datetime.fromisoformat(created["expires_at"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)

    listed = await auth_client.get("/auth/tokens", headers=ann.headers)
    assert listed.status_code == 200
    assert listed.json() == {"tokens": [{k: v for k, v in created.items() if k != "token"}]}
    assert created["token"] not in listed.text

    row = await stored_token(auth_settings, created["id"])
    assert row.token_hash == hashlib.sha256(created["token"].encode()).digest()
    assert created["token"] not in repr(row.__dict__)


async def test_a_token_works_as_a_bearer_for_the_api(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    token = (await create_token(auth_client, ann))["token"]
    me = await auth_client.get("/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == ann.user_id
    assert me.json()["email"] == "ann@example.org"

    stream = await auth_client.post(
        "/ask-stream", json={"question": QUESTION}, headers=bearer(token)
    )
    assert stream.status_code == 200, stream.text
    events = [frame.event for frame in parse_sse(stream.text) if frame.id is not None]
    assert events[0] == "started"
    assert events[-1] == "completed"
    run_id = stream.headers["x-run-id"]
    # The public event stream takes a token in the Authorization header too.
    replay = await auth_client.get(f"/runs/{run_id}/events", headers=bearer(token))
    assert replay.status_code == 200, replay.text
    assert [f.event for f in parse_sse(replay.text) if f.id is not None] == events
    history = await auth_client.get("/conversations", headers=bearer(token))
    assert history.status_code == 200, history.text


async def test_a_token_cannot_manage_tokens_passkeys_or_sign_out(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    created = await create_token(auth_client, ann)
    pat = bearer(created["token"])
    refused = [
        await auth_client.post("/auth/tokens", json={"name": "more"}, headers=pat),
        await auth_client.get("/auth/tokens", headers=pat),
        await auth_client.delete(f"/auth/tokens/{created['id']}", headers=pat),
        await auth_client.get("/auth/credentials", headers=pat),
        await auth_client.post("/auth/credentials/begin", headers=pat),
        await auth_client.post("/auth/logout", headers=pat),
    ]
    for response in refused:
        assert_error(response, 403, "personal_token_not_allowed")
    # register/begin with a token is anonymous: it cannot add a passkey to ann's account
    # (it gets registration options, which can only end in registration_failed).
    anonymous = await auth_client.post(
        "/auth/register/begin", json={"email": "ann@example.org"}, headers=pat
    )
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["excludeCredentials"] == []
    listed = (await auth_client.get("/auth/tokens", headers=ann.headers)).json()["tokens"]
    assert [t["id"] for t in listed] == [created["id"]]
    # The passkey sign-in itself is untouched and can still do all of it.
    assert (await auth_client.get("/auth/credentials", headers=ann.headers)).status_code == 200


async def test_revoking_is_immediate_on_every_worker(auth_settings: Settings) -> None:
    # Two app instances on one database stand for two workers (separate processes share
    # nothing else: the database is the source of truth).
    async with (
        AsyncTestClient(create_app(auth_settings)) as first,
        AsyncTestClient(create_app(auth_settings)) as second,
    ):
        ann = await signed_in_user(first, "ann@example.org")
        created = await create_token(first, ann)
        assert (await second.get("/auth/me", headers=bearer(created["token"]))).status_code == 200
        revoked = await first.delete(f"/auth/tokens/{created['id']}", headers=ann.headers)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json() == {"message": "Token revoked"}
        for client in (second, first):
            response = await client.get("/auth/me", headers=bearer(created["token"]))
            assert_error(response, 401, "token_revoked")
            assert response.headers["www-authenticate"] == "Bearer"
        assert (await first.get("/auth/tokens", headers=ann.headers)).json() == {"tokens": []}
        assert_error(
            await first.delete(f"/auth/tokens/{created['id']}", headers=ann.headers),
            404,
            "token_not_found",
        )


async def test_another_users_token_is_not_found(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    bob = await signed_in_user(auth_client, "bob@example.org")
    anns = await create_token(auth_client, ann)
    assert_error(
        await auth_client.delete(f"/auth/tokens/{anns['id']}", headers=bob.headers),
        404,
        "token_not_found",
    )
    assert_error(
        await auth_client.delete("/auth/tokens/not-a-token-id", headers=bob.headers),
        404,
        "token_not_found",
    )
    assert (await auth_client.get("/auth/tokens", headers=bob.headers)).json() == {"tokens": []}
    assert (await auth_client.get("/auth/me", headers=bearer(anns["token"]))).status_code == 200


async def test_bad_requests_are_400_with_a_code(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    for body, code in (
        ({"name": "x", "expires_in_days": 0}, "validation_error"),
        ({"name": "x", "expires_in_days": 366}, "validation_error"),
        ({"name": ""}, "validation_error"),
        ({"name": "x" * 101}, "validation_error"),
        ({"name": "x", "scopes": ["all"]}, "validation_error"),
        ({}, "validation_error"),
        ({"name": "   "}, "invalid_name"),
    ):
        response = await auth_client.post("/auth/tokens", json=body, headers=ann.headers)
        assert_error(response, 400, code)
    malformed = await auth_client.post(
        "/auth/tokens",
        content=b"{",
        headers={**ann.headers, "Content-Type": "application/json"},
    )
    assert_error(malformed, 400, "malformed_json")
    assert (await auth_client.get("/auth/tokens", headers=ann.headers)).json() == {"tokens": []}
    assert_error(await auth_client.get("/auth/tokens"), 401, "not_authenticated")


async def test_unknown_expired_and_malformed_tokens_are_401(
    auth_client: Client, auth_settings: Settings
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    created = await create_token(auth_client, ann)
    forged = created["token"][:-1] + ("A" if created["token"][-1] != "A" else "B")
    for token in (forged, PAT_PREFIX, PAT_PREFIX + "x" * 500):
        assert_error(
            await auth_client.get("/auth/me", headers=bearer(token)), 401, "not_authenticated"
        )
    await set_columns(
        auth_settings, created["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert_error(
        await auth_client.get("/auth/me", headers=bearer(created["token"])), 401, "token_expired"
    )


async def test_last_used_at_is_written_at_most_once_a_minute(
    auth_client: Client, auth_settings: Settings
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    created = await create_token(auth_client, ann)
    before = datetime.now(UTC)
    assert (await auth_client.get("/auth/me", headers=bearer(created["token"]))).status_code == 200
    first_use = (await stored_token(auth_settings, created["id"])).last_used_at
    assert first_use is not None
    assert first_use >= before - timedelta(seconds=1)
    for _ in range(3):
        assert (
            await auth_client.get("/auth/me", headers=bearer(created["token"]))
        ).status_code == 200
    assert (await stored_token(auth_settings, created["id"])).last_used_at == first_use

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await set_columns(auth_settings, created["id"], last_used_at=an_hour_ago)
    assert (await auth_client.get("/auth/me", headers=bearer(created["token"]))).status_code == 200
    refreshed = (await stored_token(auth_settings, created["id"])).last_used_at
    assert refreshed is not None
    assert refreshed > an_hour_ago + timedelta(minutes=59)
    listed = (await auth_client.get("/auth/tokens", headers=ann.headers)).json()["tokens"]
    assert datetime.fromisoformat(listed[0]["last_used_at"]) == refreshed


async def test_active_tokens_per_user_are_capped(
    auth_client: Client, auth_settings: Settings
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    ids = [
        (await create_token(auth_client, ann, name=f"t{i}"))["id"] for i in range(MAX_ACTIVE_TOKENS)
    ]
    assert_error(
        await auth_client.post("/auth/tokens", json={"name": "one more"}, headers=ann.headers),
        409,
        "too_many_tokens",
    )
    # An expired token no longer counts, nor does a revoked one.
    await set_columns(auth_settings, ids[0], expires_at=datetime.now(UTC) - timedelta(days=1))
    await create_token(auth_client, ann, name="after expiry")
    assert (
        await auth_client.delete(f"/auth/tokens/{ids[1]}", headers=ann.headers)
    ).status_code == 200
    await create_token(auth_client, ann, name="after revoke")
