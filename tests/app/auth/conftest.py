"""Auth fixtures: the real app on SQLite and on PostgreSQL, plus a soft authenticator.

``auth_client`` is parametrized over both backends, so every test that uses it runs twice;
the PostgreSQL run skips (fails in CI) when the server is unreachable. PostgreSQL uses one
database for the whole session, emptied (``TRUNCATE … CASCADE``) before each test: creating
and dropping a database costs about two seconds per test on a busy machine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import RateLimitSettings, Settings
from tests.conftest import PG_ADMIN_DSN, make_settings, service_unavailable
from tests.support.webauthn import SoftAuthenticator

ORIGIN = "http://localhost:8000"


@pytest.fixture(scope="session")
def auth_postgres_dsn() -> Iterator[str]:
    """One throwaway PostgreSQL database for this session's auth tests (asyncpg DSN)."""
    name = f"sca_auth_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}")
    host_part = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql://{host_part}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _empty_tables(dsn: str) -> None:
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def auth_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Test settings on the parametrized backend; ceremony rate limit high enough for tests."""
    settings = make_settings(tmp_path, rate_limit=RateLimitSettings(ceremony_per_minute=10_000))
    if request.param == "postgres":
        dsn: str = request.getfixturevalue("auth_postgres_dsn")
        asyncio.run(_empty_tables(dsn))
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        database = msgspec.structs.replace(settings.database, url=url)
        settings = msgspec.structs.replace(settings, database=database)
    return settings


@pytest.fixture
def auth_app(auth_settings: Settings) -> Litestar:
    return create_app(auth_settings)


@pytest.fixture
async def auth_client(auth_app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(auth_app) as test_client:
        yield test_client


@pytest.fixture
def authenticator(auth_settings: Settings) -> SoftAuthenticator:
    origin = auth_settings.allowed_origins()[0]
    assert origin == ORIGIN
    return SoftAuthenticator(origin=origin)
