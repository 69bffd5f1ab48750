"""Auth fixtures: the real app on SQLite and on PostgreSQL, plus a soft authenticator.

``auth_client`` is parametrized over both backends, so every test that uses it runs twice;
the PostgreSQL run skips (fails in CI) when the server is unreachable. PostgreSQL uses one
database for the whole session, emptied (``TRUNCATE … CASCADE``) before each test: creating
and dropping a database costs about two seconds per test on a busy machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import RateLimitSettings, Settings
from tests.conftest import make_settings
from tests.support.backends import on_postgres, throwaway_database
from tests.support.webauthn import SoftAuthenticator

ORIGIN = "http://localhost:8000"


@pytest.fixture(scope="session")
def auth_postgres_dsn() -> Iterator[str]:
    """One throwaway PostgreSQL database for this session's auth tests (asyncpg DSN)."""
    with throwaway_database("sca_auth") as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def auth_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Test settings on the parametrized backend; ceremony rate limit high enough for tests."""
    settings = make_settings(
        tmp_path,
        rate_limit=RateLimitSettings(ceremony_per_minute=10_000, account_per_minute=10_000),
    )
    if request.param == "postgres":
        return on_postgres(settings, request.getfixturevalue("auth_postgres_dsn"))
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
