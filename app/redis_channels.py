"""Redis pub/sub channels that survive a Redis outage and bursts of subscribers.

Litestar's ``ChannelsPlugin`` runs one publisher task and one reader task per process. With
the stock Redis backend, one failed ``PUBLISH`` or read (Redis restarted, a network blip longer
than redis-py's retries) ends that task for good: the worker never publishes or receives live
events again until it restarts, and a graceful shutdown then waits forever for the
publisher's queue to drain. Here a failure is logged and the task carries on:

- a publish that failed is dropped: every event is already committed to the database, and
  subscribers fill gaps from there; while Redis keeps failing, publishes are skipped for a
  second at a time instead of each waiting for a connect timeout;
- the reader retries with a capped backoff, and redis-py re-subscribes its channels on
  reconnect;
- subscribes are serialised (see :meth:`ResilientRedisPubSubBackend.subscribe`): under a
  burst of first subscribers, redis-py would otherwise lose most of them;
- a subscriber that could not subscribe still ends its stream correctly through the
  keep-alive database poll of ``app.runs.stream``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.logging import get_logger

__all__ = ["ResilientRedisPubSubBackend"]

_log = get_logger("app.channels")
_FIRST_RETRY_S = 0.1
_MAX_RETRY_S = 5.0
_PUBLISH_PAUSE_S = 1.0


class ResilientRedisPubSubBackend(RedisChannelsPubSubBackend):
    """``RedisChannelsPubSubBackend`` whose failures degrade live delivery, never end it."""

    _publish_paused_until = 0.0

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        """Publish, or drop the message while Redis is failing (for ``_PUBLISH_PAUSE_S`` after
        a failure), so a backlog of slow failing publishes cannot build up in the queue."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._publish_paused_until:
            return
        try:
            await super().publish(data, channels)
        except (RedisError, OSError) as exc:
            self._publish_paused_until = loop.time() + _PUBLISH_PAUSE_S
            _log.warning("channels.publish_failed", error=type(exc).__name__)

    def __init__(self, *, redis: Redis) -> None:
        super().__init__(redis=redis)
        # Binds to the running loop on first use (Python >= 3.10), not here.
        self._subscription_lock = asyncio.Lock()

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Subscribe one call at a time: redis-py's ``PubSub`` opens its connection on first
        use without a lock, so concurrent first subscribes each open one, and every channel
        subscribed on a connection but the last is silently never read."""
        try:
            async with self._subscription_lock:
                await super().subscribe(channels)
        except (RedisError, OSError) as exc:
            _log.warning("channels.subscribe_failed", error=type(exc).__name__)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        try:
            async with self._subscription_lock:
                await super().unsubscribe(channels)
        except (RedisError, OSError) as exc:
            _log.warning("channels.unsubscribe_failed", error=type(exc).__name__)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        delay = _FIRST_RETRY_S
        while True:
            try:
                async for event in super().stream_events():
                    delay = _FIRST_RETRY_S
                    yield event
            except (RedisError, OSError) as exc:
                _log.warning("channels.read_failed", error=type(exc).__name__, retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_S)

    async def on_shutdown(self) -> None:
        try:
            await super().on_shutdown()
        except (RedisError, OSError) as exc:
            _log.warning("channels.close_failed", error=type(exc).__name__)
