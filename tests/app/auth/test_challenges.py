"""The challenge store on a real database: single use, expiry purge, bounded size without a
global lockout (per-client caps, eviction from the heaviest client)."""

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


def _from(client: str) -> PendingChallenge:
    return PendingChallenge(kind=ChallengeKind.AUTHENTICATION, client=client)


async def _pending_by_client(db: Database) -> dict[str | None, int]:
    async with db.session_maker() as session:
        rows = await session.execute(
            select(WebAuthnChallenge.client, func.count()).group_by(WebAuthnChallenge.client)
        )
        return {client: int(n) for client, n in rows}


async def test_pending_challenges_are_capped_per_client(database: Database) -> None:
    store = ChallengeStore(database.session_maker, ttl_s=300, max_pending_per_client=3)
    for _ in range(3):
        await store.issue(os.urandom(64), _from("2001:db8::/64"))
    with pytest.raises(AuthError) as capped:
        await store.issue(os.urandom(64), _from("2001:db8::/64"))
    assert capped.value.status == 429
    assert "from your network" in capped.value.detail
    assert 298 <= int(capped.value.headers["Retry-After"]) <= 300
    await store.issue(os.urandom(64), _from("198.51.100.7"))  # others are unaffected
    assert await _pending_by_client(database) == {"2001:db8::/64": 3, "198.51.100.7": 1}


async def test_a_full_table_evicts_from_the_heaviest_client_not_the_newcomer(
    database: Database,
) -> None:
    """The audit's global lockout: a flood filled the table and every user got 429."""
    store = ChallengeStore(
        database.session_maker, ttl_s=300, max_pending=6, max_pending_per_client=4
    )
    flood_first = os.urandom(64)
    await store.issue(flood_first, _from("flooder-a"))
    for _ in range(3):
        await store.issue(os.urandom(64), _from("flooder-a"))
    for _ in range(2):
        await store.issue(os.urandom(64), _from("flooder-b"))
    user_challenge = os.urandom(64)
    await store.issue(user_challenge, _from("user"))
    # The heaviest client's oldest challenge made room.
    assert await _pending_by_client(database) == {"flooder-a": 3, "flooder-b": 2, "user": 1}
    with pytest.raises(AuthError) as evicted:
        await store.consume(flood_first, ChallengeKind.AUTHENTICATION)
    assert evicted.value.code == "challenge_invalid"
    await store.issue(os.urandom(64), _from("flooder-b"))  # a is still heavier than b
    assert await _pending_by_client(database) == {"flooder-a": 2, "flooder-b": 3, "user": 1}
    # A flooder as heavy as the heaviest is refused rather than evicting others.
    with pytest.raises(AuthError) as refused:
        await store.issue(os.urandom(64), _from("flooder-b"))
    assert refused.value.status == 429
    # The user's own challenge survived the flood and completes.
    pending = await store.consume(user_challenge, ChallengeKind.AUTHENTICATION)
    assert pending.kind is ChallengeKind.AUTHENTICATION
