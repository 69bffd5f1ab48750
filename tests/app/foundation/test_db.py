"""Database layer: SQLite pragmas, UTC timestamps, and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.base import UTCDateTime
from app.db.engine import create_engine
from app.db.migrate import current_revisions, downgrade, head_revisions, migrate
from app.db.models import Base
from app.settings import DatabaseSettings


def sqlite_settings(tmp_path: Path, **kwargs: Any) -> DatabaseSettings:
    return DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'app.db'}", **kwargs)


async def test_sqlite_pragmas_and_parent_directory(tmp_path: Path) -> None:
    engine = create_engine(sqlite_settings(tmp_path, sqlite_busy_timeout_ms=1234))
    try:
        assert (tmp_path / "nested").is_dir()
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 1234
    finally:
        await engine.dispose()


async def test_sqlite_without_wal(tmp_path: Path) -> None:
    engine = create_engine(sqlite_settings(tmp_path, sqlite_wal=False))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "delete"
    finally:
        await engine.dispose()


_events = Table(
    "utc_probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime()),
)


async def _utc_round_trip(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_events.metadata.create_all)
        dublin_summer = timezone(timedelta(hours=1))
        await conn.execute(
            _events.insert(),
            [
                {"id": 1, "at": datetime(2026, 7, 1, 13, 30, tzinfo=dublin_summer)},
                {"id": 2, "at": datetime(2026, 1, 1, 0, 0, tzinfo=UTC)},
            ],
        )
        rows = (await conn.execute(select(_events.c.at).order_by(_events.c.id))).scalars().all()
        assert rows == [datetime(2026, 7, 1, 12, 30, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)]
        assert all(row.utcoffset() == timedelta(0) for row in rows)
        with pytest.raises(StatementError, match="naive datetime"):
            await conn.execute(_events.insert(), {"id": 3, "at": datetime(2026, 1, 1)})


async def test_utc_datetime_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(sqlite_settings(tmp_path))
    try:
        await _utc_round_trip(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_utc_datetime_on_postgres(postgres_url: str) -> None:
    engine = create_engine(DatabaseSettings(url=postgres_url))
    try:
        await _utc_round_trip(engine)
    finally:
        await engine.dispose()


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def _migration_cycle(settings: DatabaseSettings) -> None:
    """upgrade head -> downgrade base -> upgrade head, checking the schema each time."""
    engine = create_engine(settings)
    try:
        for _ in range(2):
            await migrate(engine)
            assert await current_revisions(engine) == head_revisions()
            async with engine.connect() as conn:
                assert await conn.run_sync(_schema_diff) == [], "models and migrations differ"
                tables = await conn.run_sync(_tables)
            assert set(Base.metadata.tables) <= tables
            await downgrade(engine, "base")
            assert await current_revisions(engine) == set()
            async with engine.connect() as conn:
                assert await conn.run_sync(_tables) <= {"alembic_version"}
        await migrate(engine)
        assert await current_revisions(engine) == head_revisions()
    finally:
        await engine.dispose()


async def test_migrations_cycle_on_sqlite(tmp_path: Path) -> None:
    await _migration_cycle(sqlite_settings(tmp_path))


@pytest.mark.postgres
async def test_migrations_cycle_on_postgres(postgres_url: str) -> None:
    await _migration_cycle(DatabaseSettings(url=postgres_url))


@pytest.mark.postgres
async def test_concurrent_start_ups_migrate_once_on_postgres(postgres_url: str) -> None:
    """Several instances starting together: the advisory lock serialises the upgrades."""
    settings = DatabaseSettings(url=postgres_url)
    await asyncio.gather(*(migrate(settings) for _ in range(3)))
    assert await current_revisions(settings) == head_revisions()
