"""Migration ``0003_integer_ids`` on databases that already hold uuid-keyed conversations.

Rows written under ``0002_runs`` (two users, three conversations, their messages, runs, run
events and a dataset) must come through with integer ids in creation order, every foreign key
following its row, nothing lost or cascaded away (SQLite rebuilds the tables), the identity
continuing after the highest id, and deletes still cascading. Downgrading turns the integers
back into text ids. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import create_engine
from app.db.migrate import current_revisions, downgrade, head_revisions, migrate
from app.settings import DatabaseSettings

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ALICE, BOB = "a0000000-0000-4000-8000-000000000001", "b0000000-0000-4000-8000-000000000002"
# Uuids whose text order differs from their creation order: numbering must follow time.
OLD_CONVERSATIONS = {
    "ffffffff-0000-4000-8000-00000000000a": (ALICE, "Alice's first", 0),
    "00000000-0000-4000-8000-00000000000b": (BOB, "Bob's only", 1),
    "88888888-0000-4000-8000-00000000000c": (ALICE, "Alice's second", 2),
}


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def _insert(conn: AsyncConnection, table: str, **values: Any) -> None:
    await conn.execute(sa.table(table, *map(sa.column, values)).insert().values(values))


async def _seed_uuid_era(engine: AsyncEngine) -> None:
    """What a 0002_runs database holds after some use."""
    async with engine.begin() as conn:
        for number, user in enumerate((ALICE, BOB)):
            await _insert(
                conn,
                "users",
                id=user,
                email=f"user{number}@example.org",
                user_handle=bytes([number]) * 32,
                created_at=T0,
            )
        await _insert(
            conn,
            "datasets",
            id="d0000000-0000-4000-8000-000000000001",
            user_id=ALICE,
            name="meters.csv",
            kind="csv",
            columns="[]",
            rows="[]",
            row_count=0,
            warnings="[]",
            size_bytes=10,
            created_at=T0,
        )
        for conversation, (user, title, minute) in OLD_CONVERSATIONS.items():
            await _insert(
                conn,
                "conversations",
                id=conversation,
                user_id=user,
                title=title,
                created_at=_at(minute),
                updated_at=_at(minute + 10),
            )
            run = f"{conversation[:8]}-run0-4000-8000-000000000000"
            await _insert(
                conn,
                "runs",
                id=run,
                user_id=user,
                conversation_id=conversation,
                dataset_id="d0000000-0000-4000-8000-000000000001" if user == ALICE else None,
                question=f"Question of {title}",
                status="completed",
                progress=100,
                last_seq=2,
                cancel_requested=False,
                created_at=_at(minute),
            )
            for seq in (1, 2):
                await _insert(
                    conn,
                    "run_events",
                    run_id=run,
                    seq=seq,
                    event_type="started" if seq == 1 else "completed",
                    payload=f'{{"conversation_id": "{conversation}"}}',
                    created_at=_at(minute),
                )
            for position, role in enumerate(("user", "assistant")):
                await _insert(
                    conn,
                    "messages",
                    # Message uuids also sort against their creation order.
                    id=f"{9 - position}{minute}000000-0000-4000-8000-000000000000",
                    conversation_id=conversation,
                    position=position,
                    role=role,
                    content=f"{role} of {title}",
                    run_id=run,
                    created_at=_at(minute),
                )


async def _rows(engine: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(text(sql))).all()]


async def _check_upgraded(engine: AsyncEngine) -> None:
    assert await _rows(engine, "SELECT id, user_id, title FROM conversations ORDER BY id") == [
        (1, ALICE, "Alice's first"),
        (2, BOB, "Bob's only"),
        (3, ALICE, "Alice's second"),
    ]
    messages = await _rows(
        engine, "SELECT id, conversation_id, position, role, content FROM messages ORDER BY id"
    )
    assert messages == [
        (1, 1, 0, "user", "user of Alice's first"),
        (2, 1, 1, "assistant", "assistant of Alice's first"),
        (3, 2, 0, "user", "user of Bob's only"),
        (4, 2, 1, "assistant", "assistant of Bob's only"),
        (5, 3, 0, "user", "user of Alice's second"),
        (6, 3, 1, "assistant", "assistant of Alice's second"),
    ]
    runs = await _rows(
        engine,
        "SELECT r.conversation_id, c.title, r.user_id, r.dataset_id IS NOT NULL, "
        "(SELECT COUNT(*) FROM run_events e WHERE e.run_id = r.id) "
        "FROM runs r JOIN conversations c ON c.id = r.conversation_id ORDER BY r.conversation_id",
    )
    assert runs == [
        (1, "Alice's first", ALICE, True, 2),
        (2, "Bob's only", BOB, False, 2),
        (3, "Alice's second", ALICE, True, 2),
    ]
    # The messages' run ids still name their runs (opaque ids are untouched).
    assert await _rows(
        engine,
        "SELECT COUNT(*) FROM messages m JOIN runs r "
        "ON r.id = m.run_id AND r.conversation_id = m.conversation_id",
    ) == [(6,)]


async def _check_identity_and_cascades(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        new_id = (
            await conn.execute(
                text(
                    "INSERT INTO conversations (user_id, title, created_at, updated_at) "
                    "VALUES (:user, 'new', :at, :at) RETURNING id"
                ),
                {"user": BOB, "at": _at(60)},
            )
        ).scalar_one()
        assert new_id == 4
        message_id = (
            await conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, position, role, content, created_at) "
                    "VALUES (4, 0, 'user', 'q', :at) RETURNING id"
                ),
                {"at": _at(60)},
            )
        ).scalar_one()
        assert message_id == 7
        await conn.execute(text("DELETE FROM conversations WHERE id = 1"))
    assert await _rows(engine, "SELECT COUNT(*) FROM messages WHERE conversation_id = 1") == [(0,)]
    assert await _rows(engine, "SELECT COUNT(*) FROM runs") == [(2,)]
    assert await _rows(engine, "SELECT COUNT(*) FROM run_events") == [(4,)]
    async with engine.begin() as conn:
        # The newest id deleted: it is not given out again.
        await conn.execute(text("DELETE FROM conversations WHERE id = 4"))
        again = (
            await conn.execute(
                text(
                    "INSERT INTO conversations (user_id, title, created_at, updated_at) "
                    "VALUES (:user, 'later', :at, :at) RETURNING id"
                ),
                {"user": BOB, "at": _at(70)},
            )
        ).scalar_one()
    assert again == 5


async def _upgrade_downgrade_with_rows(settings: DatabaseSettings) -> None:
    engine = create_engine(settings)
    try:
        await migrate(engine, "0002_runs")
        await _seed_uuid_era(engine)
        await migrate(engine)
        assert await current_revisions(engine) == head_revisions()
        await _check_upgraded(engine)
        await downgrade(engine, "0002_runs")
        assert await _rows(engine, "SELECT id, title FROM conversations ORDER BY created_at") == [
            ("1", "Alice's first"),
            ("2", "Bob's only"),
            ("3", "Alice's second"),
        ]
        assert await _rows(
            engine,
            "SELECT conversation_id, COUNT(*) FROM messages GROUP BY conversation_id "
            "ORDER BY conversation_id",
        ) == [("1", 2), ("2", 2), ("3", 2)]
        assert await _rows(engine, "SELECT conversation_id FROM runs ORDER BY 1") == [
            ("1",),
            ("2",),
            ("3",),
        ]
        # And up again: the text ids of the downgrade number the same way.
        await migrate(engine)
        await _check_upgraded(engine)
        await _check_identity_and_cascades(engine)
        if engine.dialect.name == "sqlite":
            async with engine.connect() as conn:
                # The pooled connection got its foreign keys back after the migration.
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_existing_rows_get_integer_ids_on_sqlite(tmp_path: Path) -> None:
    await _upgrade_downgrade_with_rows(
        DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    )


@pytest.mark.postgres
async def test_existing_rows_get_integer_ids_on_postgres(postgres_url: str) -> None:
    await _upgrade_downgrade_with_rows(DatabaseSettings(url=postgres_url))
