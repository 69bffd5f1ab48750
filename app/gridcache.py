"""A grid-intensity cache in Redis, shared by every worker and machine.

``tools`` stays free of Redis: it defines the :class:`~tools.grid.model.GridSource` protocol
and an in-process TTL cache (:class:`~tools.grid.cache.CachedGridSource`). This module adds a
second level that implements the same protocol, and :func:`with_redis_grid_cache` slots it
between the in-process cache and the upstream source: a worker asks its own memory first,
then Redis, and only then EirGrid / the GB API — so N workers make one upstream call per
range and TTL instead of N. Ranges that include today are still changing, so they get the
short ``live_ttl_s`` here too. Redis failures fall through to the upstream source: the cache
is an optimisation, never a new way for a run to fail.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from app.logging import get_logger
from tools.grid import GRID_SOURCE_SERVICE, CachedGridSource
from tools.grid.model import GridSeries, GridSource, Region

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LIVE_TTL_S", "RedisGridCache", "with_redis_grid_cache"]

LIVE_TTL_S = 60.0

_log = get_logger("app.gridcache")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(GridSeries)


class RedisGridCache:
    """``GridSource`` in front of ``inner``: series stored as JSON under ``<prefix>:<key>``."""

    def __init__(
        self,
        inner: GridSource,
        redis: Redis,
        key_prefix: str,
        *,
        ttl_s: float,
        live_ttl_s: float = LIVE_TTL_S,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.redis = redis
        self.key_prefix = key_prefix
        self.ttl_s = ttl_s
        self.live_ttl_s = min(live_ttl_s, ttl_s)

    def supports(self, region: Region) -> bool:
        return self.inner.supports(region)

    def key(self, region: Region, start: date, end: date) -> str:
        # The source name is part of the key: switching sources must not serve old data.
        source = hashlib.sha256(self.inner.name.encode()).hexdigest()[:12]
        return f"{self.key_prefix}:{source}:{region}:{start.isoformat()}:{end.isoformat()}"

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        from redis.exceptions import RedisError

        key = self.key(region, start, end)
        try:
            cached = await self.redis.get(key)
        except (RedisError, OSError) as exc:
            _log.warning("grid_cache.unavailable", error=type(exc).__name__)
            return await self.inner.fetch(region, start, end, now)
        if cached is not None:
            try:
                return _decoder.decode(cached)
            except msgspec.DecodeError:
                _log.warning("grid_cache.undecodable", key=key)
        series = await self.inner.fetch(region, start, end, now)
        ttl = self.ttl_s if CachedGridSource.is_final(end, now) else self.live_ttl_s
        if ttl > 0:
            try:
                await self.redis.set(key, _encoder.encode(series), px=max(1, round(ttl * 1000)))
            except (RedisError, OSError) as exc:
                _log.warning("grid_cache.unavailable", error=type(exc).__name__)
        return series


def with_redis_grid_cache(
    services: dict[str, Any], redis: Redis, key_prefix: str, *, ttl_s: float
) -> dict[str, Any]:
    """``services`` with the Redis cache under the in-process one (a copy; input untouched).

    Only sources that already sit behind the in-process cache are wrapped: the synthetic
    source computes its data and gains nothing from a round trip to Redis.
    """
    source = services.get(GRID_SOURCE_SERVICE)
    if not isinstance(source, CachedGridSource) or ttl_s <= 0:
        return dict(services)
    shared = RedisGridCache(source.inner, redis, key_prefix, ttl_s=ttl_s)
    local = CachedGridSource(
        shared, ttl_s=source.ttl_s, live_ttl_s=source.live_ttl_s, max_entries=source.max_entries
    )
    return {**services, GRID_SOURCE_SERVICE: local}
