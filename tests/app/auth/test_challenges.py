"""The challenge store on a real database: single use, expiry purge, bounded size."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.auth.challenges import ChallengeKind, ChallengeStore, PendingChallenge
from app.auth.errors import AuthError
from app.auth.models import WebAuthnChallenge
from app.db.engine import Database
from app.db.migrate import migrate
from app.settings import DatabaseSettings

LOGIN = PendingChallenge(kind=ChallengeKind.AUTHENTICATION)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"))
    await migrate(db.engine)
    yield db
    await db.dispose()


async def _count(db: Database) -> int:
    async with db.session_maker() as session:
        return int(await session.scalar(select(func.count()).select_from(WebAuthnChallenge)) or 0)


async def test_consume_is_single_use_and_checks_kind(database: Database) -> None:
    store = ChallengeStore(database.session_maker, ttl_s=300)
    challenge = os.urandom(64)
    await store.issue(challenge, PendingChallenge(kind=ChallengeKind.REGISTRATION, email="a@b.c"))
    with pytest.raises(AuthError) as wrong:
        await store.consume(challenge, ChallengeKind.AUTHENTICATION)
    assert wrong.value.code == "challenge_wrong_ceremony"
    # Even a wrong-ceremony attempt used it up.
    with pytest.raises(AuthError) as gone:
        await store.consume(challenge, ChallengeKind.REGISTRATION)
    assert gone.value.code == "challenge_invalid"

    other = os.urandom(64)
    await store.issue(other, PendingChallenge(kind=ChallengeKind.REGISTRATION, email="a@b.c"))
    pending = await store.consume(other, ChallengeKind.REGISTRATION)
    assert pending.email == "a@b.c"
    assert await _count(database) == 0


async def test_expired_challenges_are_refused_and_purged(database: Database) -> None:
    store = ChallengeStore(database.session_maker, ttl_s=300)
    old = [os.urandom(64) for _ in range(3)]
    for challenge in old:
        await store.issue(challenge, LOGIN)
    async with database.session_maker.begin() as session:
        await session.execute(
            update(WebAuthnChallenge).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(AuthError) as expired:
        await store.consume(old[0], ChallengeKind.AUTHENTICATION)
    assert expired.value.code == "challenge_expired"
    await store.issue(os.urandom(64), LOGIN)  # issuing purges the expired rows
    assert await _count(database) == 1


async def test_pending_challenges_are_bounded(database: Database) -> None:
    store = ChallengeStore(database.session_maker, ttl_s=300, max_pending=3)
    for _ in range(3):
        await store.issue(os.urandom(64), LOGIN)
    with pytest.raises(AuthError) as full:
        await store.issue(os.urandom(64), LOGIN)
    assert full.value.status == 429
    assert full.value.headers["Retry-After"] == "300"
    assert await _count(database) == 3
