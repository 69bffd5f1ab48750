"""``/health`` and ``/health/ready`` with real components."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text

from app.db.migrate import head_revisions
from app.health import HealthRegistry
from app.main import create_app
from app.redis import redis_key
from app.settings import DatabaseSettings, RedisSettings
from app.state import get_database, get_health
from tests.conftest import make_settings
from tests.live_server import free_port


async def test_health_is_healthy_with_real_checks(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"]
    assert body["timestamp"].endswith("+00:00")
    database = body["components"]["database"]
    assert database["status"] == "healthy"
    assert database["backend"] == "sqlite"
    assert database["latency_ms"] >= 0
    assert body["components"]["config"]["status"] == "healthy"
    assert body["components"]["provider"] == {
        "status": "healthy",
        "message": "offline engine (no network, no key)",
        "provider": "offline",
    }
    assert "redis" not in body["components"]


async def test_ready_after_migrations(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["components"]["migrations"]["status"] == "healthy"


async def test_health_503_when_database_unreachable(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    url = f"sqlite+aiosqlite:///{db_dir / 'app.db'}"
    app = create_app(make_settings(tmp_path, database=DatabaseSettings(url=url)))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health")).status_code == 200
        # Outage: close pooled connections and take the database file's folder away.
        await get_database(app.state).engine.dispose()
        db_dir.rename(tmp_path / "gone")
        try:
            response = await client.get("/health")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unhealthy"
            assert body["components"]["database"]["status"] == "unhealthy"
            assert "unreachable" in body["components"]["database"]["message"]
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["ready"] is False
        finally:
            (tmp_path / "gone").rename(db_dir)
        assert (await client.get("/health")).status_code == 200


async def test_ready_503_while_migrations_pending(app: Litestar) -> None:
    if not head_revisions():
        pytest.skip("no migration revisions shipped: an empty schema is always up to date")
    async with AsyncTestClient(app) as client:
        engine = get_database(app.state).engine
        async with engine.begin() as conn:
            saved = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            await conn.execute(text("DELETE FROM alembic_version"))
        response = await client.get("/health/ready")
        assert response.status_code == 503
        migrations = response.json()["components"]["migrations"]
        assert migrations["message"] == "migrations pending"
        assert migrations["current"] == []
        assert migrations["heads"] == sorted(head_revisions())
        async with engine.begin() as conn:
            for (version,) in saved:
                await conn.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version}
                )
        assert (await client.get("/health/ready")).status_code == 200


async def test_reported_provider_failure_makes_health_unhealthy(
    app: Litestar, client: AsyncTestClient[Litestar]
) -> None:
    await get_health(app.state).report("provider", "unhealthy", "OpenAI rejected the API key")
    response = await client.get("/health")
    assert response.status_code == 503
    provider = response.json()["components"]["provider"]
    assert provider["status"] == "unhealthy"
    assert provider["message"] == "OpenAI rejected the API key"
    assert "reported_at" in provider
    await get_health(app.state).clear("provider")
    assert (await client.get("/health")).status_code == 200


async def test_redis_component_unhealthy_when_unreachable(tmp_path: Path) -> None:
    redis = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(create_app(make_settings(tmp_path, redis=redis))) as client:
        response = await client.get("/health")
        assert response.status_code == 503
        assert response.json()["components"]["redis"]["status"] == "unhealthy"


async def test_redis_component_healthy(tmp_path: Path, redis_url: str) -> None:
    redis = RedisSettings(url=redis_url)
    async with AsyncTestClient(create_app(make_settings(tmp_path, redis=redis))) as client:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json()["components"]["redis"]["status"] == "healthy"


@pytest.mark.postgres
async def test_app_on_postgres_migrates_and_is_ready(tmp_path: Path, postgres_url: str) -> None:
    """Same code, config only: the whole app on PostgreSQL through asyncpg."""
    database = DatabaseSettings(url=postgres_url, pool_size=2, max_overflow=0)
    async with AsyncTestClient(create_app(make_settings(tmp_path, database=database))) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["components"]["database"]["backend"] == "postgresql"
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["components"]["migrations"]["status"] == "healthy"


async def test_with_redis_every_worker_sees_and_clears_a_reported_failure(
    tmp_path: Path, redis_url: str
) -> None:
    """Two apps on one Redis stand for two workers, and a third registry with its own client
    for a third worker: a 401 it reports shows on both, and its completed run clears it."""
    redis = RedisSettings(url=redis_url, key_prefix=f"test-health-{uuid.uuid4().hex[:8]}")
    first = create_app(make_settings(tmp_path / "a", redis=redis))
    second = create_app(make_settings(tmp_path / "b", redis=redis))
    client = Redis.from_url(redis_url)
    third = HealthRegistry(client, redis_key(redis, "health"))
    try:
        async with AsyncTestClient(first) as one, AsyncTestClient(second) as two:
            await third.report("provider", "unhealthy", "OpenAI rejected the key", run_id="r1")
            for worker in (one, two):
                seen = await worker.get("/health")
                assert seen.status_code == 503
                provider = seen.json()["components"]["provider"]
                assert (provider["message"], provider["run_id"]) == (
                    "OpenAI rejected the key",
                    "r1",
                )
            await third.clear("provider")
            assert (await one.get("/health")).status_code == 200
            assert (await two.get("/health")).status_code == 200
    finally:
        await client.delete(redis_key(redis, "health"))
        await client.aclose()


async def test_with_redis_down_a_worker_still_reports_its_own_failure(tmp_path: Path) -> None:
    redis = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(make_settings(tmp_path, redis=redis))
    async with AsyncTestClient(app) as client:
        await get_health(app.state).report("provider", "unhealthy", "OpenAI rejected the key")
        body = (await client.get("/health")).json()
        assert body["components"]["provider"]["message"] == "OpenAI rejected the key"
        assert body["components"]["redis"]["status"] == "unhealthy"
