"""The app's one Redis client (when ``redis.url`` / ``REDIS_URL`` is set) and its key scheme.

One client per app (i.e. per worker process) backs the run-event channels, the ceremony rate
limit and the grid-intensity cache, so a worker holds one connection pool, and the client
is closed by one lifespan after every user of it has stopped. Keys are
``<redis.key_prefix>:<area>:…`` so several deployments (or test runs) can share a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from litestar import Litestar

from app.settings import RedisSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["create_redis", "redis_key", "redis_lifespan"]

CONNECT_TIMEOUT_S = 2.0
# Idle pooled connections are PINGed before reuse after this long (a restarted Redis or a
# proxy that dropped the connection would otherwise surface as an error on the next call).
HEALTH_CHECK_INTERVAL_S = 30


def create_redis(settings: RedisSettings) -> Redis | None:
    """A client for ``settings.url``, or None without one. Connects lazily (no I/O here)."""
    if settings.url is None:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(
        settings.url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        # No socket_timeout: the channels' pub/sub connection blocks on reads by design.
    )


def redis_key(settings: RedisSettings, *parts: str) -> str:
    """``<key_prefix>:<part>:<part>…`` — every key this app writes goes through here."""
    return ":".join((settings.key_prefix, *parts))


def redis_lifespan(
    client: Redis | None,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Close ``client``'s pool at shutdown (registered before the plugins, so it runs last)."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if client is not None:
                await client.aclose()

    return lifespan
