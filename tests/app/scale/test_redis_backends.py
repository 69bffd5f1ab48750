"""Redis-backed scale-out pieces against the real Redis server, and the in-memory defaults.

Two app instances on one Redis stand for two workers: live run events published by one reach
subscribers of the other, the ceremony rate limit is counted once for both, and grid data one
fetched is served to the other from Redis. Every test uses its own key prefix (deleted after).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.auth.errors import AuthError
from app.auth.ratelimit import CeremonyRateLimiter, RedisRateLimiter
from app.auth.services import get_auth_services
from app.gridcache import RedisGridCache, with_redis_grid_cache
from app.main import create_app
from app.redis_channels import ResilientRedisPubSubBackend
from app.runs.plugin import RunsPlugin
from app.settings import RateLimitSettings, RedisSettings, Settings
from app.state import get_redis
from orchestrator.config import ToolsConfig
from tests.conftest import make_settings
from tests.live_server import free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.webauthn import signed_in_user
from tools.grid import GRID_SOURCE_SERVICE, CachedGridSource, SyntheticGridSource
from tools.grid.model import GridSeries, Region

pytestmark = [pytest.mark.redis]

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingSource:
    """Synthetic grid data that counts how often it was asked (the 'upstream API')."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self._inner = SyntheticGridSource()

    def supports(self, region: Region) -> bool:
        return self._inner.supports(region)

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        self.calls += 1
        return await self._inner.fetch(region, start, end, now)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def prefix(redis_client: Redis) -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    value = f"sca-test-{uuid.uuid4().hex[:12]}"
    try:
        yield value
    finally:
        keys = [key async for key in redis_client.scan_iter(match=f"{value}:*")]
        if keys:
            await redis_client.delete(*keys)


def _on_redis(tmp_path: Path, redis_url: str, prefix: str, **sections: object) -> Settings:
    redis = RedisSettings(url=redis_url, key_prefix=prefix)
    return make_settings(tmp_path, redis=redis, **sections)


def _channels(app: Litestar) -> ChannelsPlugin:
    return app.plugins.get(RunsPlugin).channels


async def _until_received(
    publisher: ChannelsPlugin, subscriber: ChannelsPlugin, channel: str, within_s: float
) -> bytes:
    """Publish on ``publisher`` every 50 ms until a subscriber of ``subscriber`` receives it."""
    sub = await subscriber.subscribe([channel])
    received: asyncio.Task[bytes] = asyncio.ensure_future(anext(sub.iter_events()))
    try:
        deadline = asyncio.get_running_loop().time() + within_s
        while not received.done() and asyncio.get_running_loop().time() < deadline:
            publisher.publish(b"ping", channel)
            await asyncio.wait({received}, timeout=0.05)
        assert received.done(), f"nothing arrived on {channel} within {within_s:g} s"
        return received.result()
    finally:
        received.cancel()
        await subscriber.unsubscribe(sub)


# --- without Redis: in-memory backends ------------------------------------------------------


async def test_without_redis_everything_is_in_memory(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    assert get_redis(app.state) is None
    assert isinstance(_channels(app)._backend, MemoryChannelsBackend)
    assert isinstance(get_auth_services(app.state).limiter, CeremonyRateLimiter)
    async with AsyncTestClient(app) as client:
        health = (await client.get("/health")).json()
        assert "redis" not in health["components"]
        assert health["components"]["database"]["backend"] == "sqlite"


# --- channels --------------------------------------------------------------------------------


async def test_a_message_published_on_one_app_reaches_a_subscriber_of_another(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    app_a = create_app(_on_redis(tmp_path / "a", redis_url, prefix))
    app_b = create_app(_on_redis(tmp_path / "b", redis_url, prefix))
    assert isinstance(_channels(app_b)._backend, ResilientRedisPubSubBackend)
    channel = f"run:{uuid.uuid4()}"
    # The apps' own lifespans on the test's loop (the test client would run them on another).
    async with app_a.lifespan(), app_b.lifespan():
        # Publish until B's SUBSCRIBE has reached Redis (pub/sub keeps no history).
        received = await _until_received(_channels(app_a), _channels(app_b), channel, 5)
    assert received == b"ping"


async def test_a_burst_of_first_subscribers_on_a_fresh_worker_all_receive_events(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    """Many SSE clients connecting at once to a worker that has no Redis subscription yet
    (redis-py opens the pub/sub connection lazily, and a race there lost most of them)."""
    app_a = create_app(_on_redis(tmp_path / "a", redis_url, prefix))
    app_b = create_app(_on_redis(tmp_path / "b", redis_url, prefix))
    runs = [f"run:{uuid.uuid4()}" for _ in range(5)]
    async with app_a.lifespan(), app_b.lifespan():
        subscribers = await asyncio.gather(
            *(_channels(app_b).subscribe([runs[i % len(runs)]]) for i in range(50))
        )
        try:
            # A probe channel subscribed afterwards is live once a publish reaches it; the
            # burst's SUBSCRIBEs were sent before it on the same connection, so they are too.
            await _until_received(_channels(app_a), _channels(app_b), "run:probe", 5)
            for run in runs:
                _channels(app_a).publish(b"1 started\n{}", run)
            async with asyncio.timeout(5):
                received = await asyncio.gather(*(anext(s.iter_events()) for s in subscribers))
            assert received == [b"1 started\n{}"] * 50
        finally:
            for subscriber in subscribers:
                await _channels(app_b).unsubscribe(subscriber)


# --- ceremony rate limit ---------------------------------------------------------------------


async def test_redis_limiter_counts_across_instances_in_a_sliding_window(
    redis_client: Redis, prefix: str
) -> None:
    clock = FakeClock(1_800_000_010.0)
    worker_a = RedisRateLimiter(redis_client, f"{prefix}:rl", 3, clock=clock)
    worker_b = RedisRateLimiter(redis_client, f"{prefix}:rl", 3, clock=clock)
    await worker_a.check("1.2.3.4")
    clock.now += 5.0
    await worker_b.check("1.2.3.4")
    await worker_a.check("1.2.3.4")
    await worker_b.check("5.6.7.8")  # another client has its own count
    clock.now += 5.0
    with pytest.raises(AuthError) as refused:
        await worker_b.check("1.2.3.4")
    assert refused.value.status == 429
    # The first call (10 s ago) leaves the window in 50 s.
    assert refused.value.headers == {"Retry-After": "50"}
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}:rl:*")]
    assert sorted(keys) == [f"{prefix}:rl:1.2.3.4".encode(), f"{prefix}:rl:5.6.7.8".encode()]
    for key in keys:
        assert 0 < await redis_client.pttl(key) <= 60_000
    clock.now += 50.0
    # The first call left the window; the refused one was never counted.
    await worker_a.check("1.2.3.4")
    with pytest.raises(AuthError) as again:
        await worker_a.check("1.2.3.4")
    assert again.value.headers == {"Retry-After": "5"}


async def test_redis_limiter_lets_requests_through_when_redis_is_down() -> None:
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        limiter = RedisRateLimiter(down, "sca-test-down", 1)
        for _ in range(3):
            await limiter.check("1.2.3.4")
    finally:
        await down.aclose()


async def test_the_ceremony_limit_is_shared_by_two_apps_on_one_redis(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    limits = RateLimitSettings(ceremony_per_minute=5)
    app_a = create_app(_on_redis(tmp_path / "a", redis_url, prefix, rate_limit=limits))
    app_b = create_app(_on_redis(tmp_path / "b", redis_url, prefix, rate_limit=limits))
    assert isinstance(get_auth_services(app_a.state).limiter, RedisRateLimiter)
    async with AsyncTestClient(app_a) as client_a, AsyncTestClient(app_b) as client_b:
        for client in (client_a, client_b, client_a, client_b, client_a):
            assert (await client.post("/auth/login/begin", json={})).status_code == 200
        for client in (client_b, client_a):
            refused = await client.post("/auth/login/begin", json={})
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 60


# --- grid-intensity cache --------------------------------------------------------------------


async def test_grid_data_fetched_by_one_worker_is_served_to_another_from_redis(
    redis_client: Redis, prefix: str
) -> None:
    upstream = CountingSource()
    worker_a = RedisGridCache(upstream, redis_client, f"{prefix}:grid", ttl_s=900)
    worker_b = RedisGridCache(upstream, redis_client, f"{prefix}:grid", ttl_s=900)
    past = (date(2026, 11, 1), date(2026, 11, 2))
    first = await worker_a.fetch("ie", *past, NOW)
    second = await worker_b.fetch("ie", *past, NOW)
    assert upstream.calls == 1
    assert second == first
    assert msgspec.json.encode(second) == msgspec.json.encode(first)
    # Another region or range is another key.
    await worker_b.fetch("gb", *past, NOW)
    assert upstream.calls == 2
    past_key = worker_a.key("ie", *past)
    assert 850_000 < await redis_client.pttl(past_key) <= 900_000


async def test_a_range_that_includes_today_is_cached_only_briefly(
    redis_client: Redis, prefix: str
) -> None:
    cache = RedisGridCache(CountingSource(), redis_client, f"{prefix}:grid", ttl_s=900)
    await cache.fetch("ie", date(2026, 11, 19), NOW.date(), NOW)
    live_key = cache.key("ie", date(2026, 11, 19), NOW.date())
    assert 0 < await redis_client.pttl(live_key) <= 60_000


async def test_the_grid_cache_falls_through_when_redis_is_down() -> None:
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    upstream = CountingSource()
    try:
        cache = RedisGridCache(upstream, down, "sca-test-down", ttl_s=900)
        series = await cache.fetch("ie", date(2026, 11, 1), date(2026, 11, 1), NOW)
    finally:
        await down.aclose()
    assert upstream.calls == 1
    assert series.points


async def test_redis_sits_between_the_in_process_cache_and_the_upstream_source(
    redis_client: Redis, prefix: str
) -> None:
    upstream = CountingSource()
    services = {GRID_SOURCE_SERVICE: CachedGridSource(upstream, ttl_s=900)}
    wrapped = with_redis_grid_cache(services, redis_client, prefix, ttl_s=900)
    local = wrapped[GRID_SOURCE_SERVICE]
    assert isinstance(local, CachedGridSource)
    assert isinstance(local.inner, RedisGridCache)
    assert local.inner.inner is upstream
    assert services[GRID_SOURCE_SERVICE].inner is upstream  # the input is not modified
    synthetic = {GRID_SOURCE_SERVICE: SyntheticGridSource()}
    assert with_redis_grid_cache(synthetic, redis_client, prefix, ttl_s=900) == synthetic


async def test_the_app_puts_its_grid_file_source_behind_redis(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    grid_file = tmp_path / "grid.csv"
    grid_file.write_text("timestamp,value\n2026-11-01T00:00:00Z,250\n2026-11-01T00:30:00Z,240\n")
    tools = ToolsConfig(grid_source="file", grid_file=str(grid_file))
    settings = _on_redis(tmp_path, redis_url, prefix, tools=tools)
    app = create_app(settings)
    runs = app.plugins.get(RunsPlugin)
    source = runs.tool_services()[GRID_SOURCE_SERVICE]
    assert isinstance(source, CachedGridSource)
    assert isinstance(source.inner, RedisGridCache)
    assert source.inner.key_prefix == f"{prefix}:grid"
    series = await source.fetch("ie", date(2026, 11, 1), date(2026, 11, 1), NOW)
    assert [point.value for point in series.points] == [250, 240]
    client = get_redis(app.state)
    assert client is not None
    assert await client.exists(source.inner.key("ie", date(2026, 11, 1), date(2026, 11, 1)))
    await client.aclose()


# --- health ----------------------------------------------------------------------------------


async def test_health_reports_database_and_redis_separately(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    async with AsyncTestClient(create_app(_on_redis(tmp_path, redis_url, prefix))) as client:
        health = await client.get("/health")
        ready = await client.get("/health/ready")
    assert health.status_code == 200
    components = health.json()["components"]
    assert components["database"]["status"] == "healthy"
    assert components["redis"]["status"] == "healthy"
    assert ready.status_code == 200
    assert set(ready.json()["components"]) == {"database", "migrations", "redis"}


async def test_not_ready_while_redis_is_down(tmp_path: Path) -> None:
    redis = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(create_app(make_settings(tmp_path, redis=redis))) as client:
        ready = await client.get("/health/ready")
        health = await client.get("/health")
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert body["components"]["redis"]["status"] == "unhealthy"
    assert body["components"]["database"]["status"] == "healthy"
    assert health.status_code == 503
    assert health.json()["components"]["database"]["status"] == "healthy"


# --- Redis outages ---------------------------------------------------------------------------


async def test_live_events_flow_again_after_a_redis_outage(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    target = redis_url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = target.partition(":")
    proxy = await TcpProxy(host, int(port or 6379)).start()
    via_proxy = f"redis://127.0.0.1:{proxy.port}/0"
    app_a = create_app(_on_redis(tmp_path / "a", redis_url, prefix))
    app_b = create_app(_on_redis(tmp_path / "b", via_proxy, prefix))
    channels_a, channels_b = _channels(app_a), _channels(app_b)
    try:
        async with asyncio.timeout(40):
            async with app_a.lifespan(), app_b.lifespan():
                assert await _until_received(channels_a, channels_b, "run:before", 5) == b"ping"
                # B subscribes to a run's channel, then Redis "goes away" for B.
                waiting = await channels_b.subscribe(["run:during"])
                events = waiting.iter_events()
                await proxy.cut()
                channels_b.publish(b"lost", "run:during")  # fails quietly, B stays up
                await asyncio.sleep(0.5)
                await proxy.resume()
                # B's reader reconnects and re-subscribes; B publishes again.
                arrived: asyncio.Task[bytes] = asyncio.ensure_future(anext(events))
                for _ in range(200):
                    channels_a.publish(b"after", "run:during")
                    done, _ = await asyncio.wait({arrived}, timeout=0.05)
                    if done:
                        break
                assert arrived.result() == b"after"
                await channels_b.unsubscribe(waiting)
                assert await _until_received(channels_b, channels_a, "run:back", 10) == b"ping"
            # ...and both apps shut down (the publisher queue drained).
    finally:
        await proxy.aclose()


async def test_runs_complete_and_replay_while_redis_is_unreachable(tmp_path: Path) -> None:
    redis = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", key_prefix="sca-test-down")
    app = create_app(make_settings(tmp_path, redis=redis))
    async with asyncio.timeout(60), AsyncTestClient(app) as client:
        user = await signed_in_user(client, "outage@example.org")
        question = {"question": "1000 kWh in Ireland?"}
        answer = await client.post("/ask", json=question, headers=user.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Success"
        replay = await client.get(f"/runs/{answer.json()['run_id']}/events", headers=user.headers)
        assert replay.status_code == 200
        assert "event: completed" in replay.text
