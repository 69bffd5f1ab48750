"""Shared fixtures: settings on a temp SQLite file, the app, an async client, throwaway
PostgreSQL databases, Redis, and live servers.

Service fixtures (``postgres_url``, ``redis_url``) skip with a reason when the service is not
reachable, but FAIL when ``CI=true``: CI must never pass by skipping the scale-out tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import AuthSettings, DatabaseSettings, LoggingSettings, Settings
from tests.live_server import TEST_JWT_SECRET, LiveServer, start_server

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def service_unavailable(reason: str) -> None:
    """Skip locally, fail in CI (where the services must be there)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: service tests must not be skipped)")
    pytest.skip(reason)


def make_settings(tmp_path: Path, **sections: object) -> Settings:
    """Test settings: temp SQLite file, offline provider, fixed JWT secret, quiet JSON logs.

    ``sections`` replace whole sections, e.g. ``make_settings(tmp_path, cors=CorsSettings(...))``.
    """
    base = Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"),
        auth=AuthSettings(jwt_secret=TEST_JWT_SECRET),
        logging=LoggingSettings(level="WARNING", format="json"),
    )
    return msgspec.structs.replace(base, **sections)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An async client with the app's lifespan running (migrations applied)."""
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database (dropped afterwards), as an asyncpg URL."""
    # Imported here: tests.support.backends itself imports this module.
    from tests.support.backends import throwaway_database

    with throwaway_database("sca_test") as dsn:
        yield dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def redis_url() -> str:
    """The Redis test server's URL, after a PING. Use a unique key prefix per test."""
    redis_asyncio = pytest.importorskip("redis.asyncio")
    client = redis_asyncio.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, redis_asyncio.RedisError) as exc:
        service_unavailable(f"Redis not reachable at {REDIS_TEST_URL}: {exc}")
    finally:
        await client.aclose()
    return REDIS_TEST_URL


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Factory ``live_server(env=None, args=None) -> LiveServer``; every server started
    through it is stopped (SIGTERM, then SIGKILL) at teardown. Logs land in ``tmp_path``.
    """
    started: list[LiveServer] = []

    def factory(env: dict[str, str] | None = None, args: list[str] | None = None) -> LiveServer:
        server = start_server(env or {}, args or [], log_dir=tmp_path)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
