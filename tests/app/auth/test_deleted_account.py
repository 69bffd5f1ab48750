"""A deleted account is refused at once, on every worker, with what really happened.

The user lookup used to be cached per process: a token of a deleted account kept working on
``/conversations`` and ``/runs`` of every worker that had seen it, and ``/ask`` then failed
its insert and said ``conversation_busy``.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete

from app.auth.models import User
from app.db.engine import create_engine
from app.main import create_app
from app.settings import Settings
from tests.support.webauthn import signed_in_user


async def _delete_account(settings: Settings, user_id: str) -> None:
    engine = create_engine(settings.database)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(User).where(User.id == user_id))
    finally:
        await engine.dispose()


def _assert_gone(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unknown_user", response.json()
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_deleted_accounts_token_is_refused_on_every_worker(
    auth_settings: Settings,
) -> None:
    app_a, app_b = create_app(auth_settings), create_app(auth_settings)
    client_a: AsyncTestClient[Litestar]
    async with AsyncTestClient(app_a) as client_a, AsyncTestClient(app_b) as client_b:
        ann = await signed_in_user(client_a, "ann@example.org")
        for client in (client_a, client_b):  # both workers have seen the account
            assert (await client.get("/conversations", headers=ann.headers)).status_code == 200
            assert (await client.get("/runs", headers=ann.headers)).status_code == 200

        await _delete_account(auth_settings, ann.user_id)

        for client in (client_a, client_b):
            _assert_gone(await client.get("/conversations", headers=ann.headers))
            _assert_gone(await client.get("/runs", headers=ann.headers))
            _assert_gone(await client.get("/auth/me", headers=ann.headers))
            _assert_gone(
                await client.post("/ask", json={"question": "Hello?"}, headers=ann.headers)
            )
        # Nor does it count as signed in where a bearer token is optional.
        begin = await client_b.post("/auth/credentials/begin", headers=ann.headers)
        _assert_gone(begin)
