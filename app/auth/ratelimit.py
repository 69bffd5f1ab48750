"""Per-IP fixed-window rate limit for the public ceremony and refresh endpoints.

Two implementations of one :class:`RateLimiter` protocol, chosen by configuration:

- :class:`CeremonyRateLimiter` (no Redis): in-process and synchronous (no await between read
  and write, so it is exact within a worker); with several workers each would enforce the
  limit on its own share of the traffic, which is why more than one worker requires Redis.
  Only the current window's counters are kept, so memory is bounded by the distinct clients
  seen in one minute (and hard-capped).
- :class:`RedisRateLimiter` (``redis.url`` set): the same window counted with Redis ``INCR``,
  which is atomic, so the limit is exact across all workers and machines. Litestar's
  ``RedisStore`` was not used: it offers only get/set, and a read-modify-write through it
  races between workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from app.auth.errors import AuthError
from app.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RATE_LIMIT_OPT", "CeremonyRateLimiter", "RateLimiter", "RedisRateLimiter"]

RATE_LIMIT_OPT = "auth_rate_limited"
_WINDOW_S = 60.0
_MAX_CLIENTS = 100_000

_log = get_logger("app.auth")


class RateLimiter(Protocol):
    """Counts one request of ``client``; raises a 429 :class:`AuthError` over the limit."""

    async def check(self, client: str) -> None: ...


def _refuse(per_minute: int, window: int, now: float) -> AuthError:
    retry_after = math.ceil((window + 1) * _WINDOW_S - now)
    return AuthError.too_many(
        f"Too many sign-in requests: at most {per_minute} per minute; retry in {retry_after} s",
        retry_after,
    )


class CeremonyRateLimiter:
    """``hit(client)`` counts a request and raises 429 (with ``Retry-After``) over the limit."""

    def __init__(
        self,
        per_minute: int,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.enabled = enabled
        self._clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}

    async def check(self, client: str) -> None:
        self.hit(client)

    def hit(self, client: str) -> None:
        if not self.enabled:
            return
        now = self._clock()
        window = int(now // _WINDOW_S)
        if window != self._window:
            self._window = window
            self._counts = {}
        count = self._counts.get(client, 0) + 1
        if count > self.per_minute or (count == 1 and len(self._counts) >= _MAX_CLIENTS):
            raise _refuse(self.per_minute, window, now)
        self._counts[client] = count


class RedisRateLimiter:
    """The fixed window in Redis: key ``<prefix>:<window>:<client>``, ``INCR`` + ``EXPIRE``.

    Windows follow the wall clock (``time.time``), so every worker and machine agrees on
    them. If Redis cannot be reached the request is let through and a warning is logged:
    a rate limiter must not lock every user out while ``/health`` already reports Redis down.
    """

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        per_minute: int,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.per_minute = per_minute
        self.enabled = enabled
        self._clock = clock

    async def check(self, client: str) -> None:
        if not self.enabled:
            return
        from redis.exceptions import RedisError

        now = self._clock()
        window = int(now // _WINDOW_S)
        key = f"{self.key_prefix}:{window}:{client}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, int(2 * _WINDOW_S))
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            _log.warning("auth.rate_limit_unavailable", error=type(exc).__name__)
            return
        if int(count) > self.per_minute:
            raise _refuse(self.per_minute, window, now)
