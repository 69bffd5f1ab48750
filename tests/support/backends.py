"""Run an API suite on SQLite AND PostgreSQL by overriding its ``settings`` fixture.

A suite opts in with one line in its ``conftest.py``::

    from tests.support.backends import api_postgres_dsn, settings_on_each_backend

``settings`` is then parametrized ``[sqlite, postgres]``: every test that uses ``settings``,
``app`` or ``client`` (tests/conftest.py) runs on both. PostgreSQL uses one database per test
session, emptied before each test, because creating a database costs ~2 s on a busy machine;
it skips with a reason when the server is absent and fails under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import msgspec
import pytest

from app.settings import Settings
from tests.conftest import PG_ADMIN_DSN, make_settings, service_unavailable

__all__ = [
    "api_postgres_dsn",
    "empty_tables",
    "on_postgres",
    "settings_on_each_backend",
    "throwaway_database",
]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def empty_tables(dsn: str) -> None:
    """TRUNCATE every application table (the schema and its version stay)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} CASCADE")
    finally:
        await conn.close()


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """CREATE a uniquely named database, yield its plain DSN (``postgresql://…``), DROP it.

    Skips (fails under ``CI=true``) when PostgreSQL is not reachable. Sync, so module- and
    session-scoped fixtures can use it.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}")
    host_part = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql://{host_part}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def on_postgres(settings: Settings, dsn: str) -> Settings:
    """``settings`` pointed at the (emptied) PostgreSQL database ``dsn`` instead of SQLite."""
    asyncio.run(empty_tables(dsn))
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    database = msgspec.structs.replace(settings.database, url=url)
    return msgspec.structs.replace(settings, database=database)


@pytest.fixture(scope="session")
def api_postgres_dsn() -> Iterator[str]:
    """One throwaway PostgreSQL database for the session's API tests (plain asyncpg DSN)."""
    with throwaway_database("sca_api") as dsn:
        yield dsn


@pytest.fixture(
    name="settings",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def settings_on_each_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """``tests.conftest.make_settings`` on the parametrized database backend."""
    settings = make_settings(tmp_path)
    if request.param == "postgres":
        return on_postgres(settings, request.getfixturevalue("api_postgres_dsn"))
    return settings
