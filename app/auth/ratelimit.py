"""Per-IP sliding-window rate limit for the public ceremony and refresh endpoints.

A client may make ``per_minute`` calls in *any* 60-second span (a sliding-window log: the
times of its last ``per_minute`` accepted calls are kept). A fixed window aligned to the
clock would let a client make twice the limit across a minute boundary and would make the
limit's behaviour depend on when in the minute the calls arrive.

Two implementations of one :class:`RateLimiter` protocol, chosen by configuration:

- :class:`CeremonyRateLimiter` (no Redis): in-process and synchronous (no await between read
  and write, so it is exact within a worker); with several workers each would enforce the
  limit on its own share of the traffic, which is why more than one worker requires Redis.
  Memory is bounded: at most ``per_minute`` timestamps per client (about 200 bytes for a
  client seen once), idle clients are swept once per window, and the number of clients is
  capped. A full table never refuses a newcomer (that locked *everyone* out once a flood
  from many addresses had filled it): it forgets the clients with the fewest recent calls
  instead, whose logs are worth least, and keeps the heaviest, which stay refused.
- :class:`RedisRateLimiter` (``redis.url`` set): the same log as a sorted set per client,
  trimmed, counted and appended by one Lua script, which Redis runs atomically, so the limit
  is exact across all workers and machines. Litestar's ``RedisStore`` was not used: it offers
  only get/set, and a read-modify-write through it races between workers.

Keys are chosen by the caller: a client (IPv4 address or IPv6 /64, ``app.auth.clients``) for
every ceremony call, and an account (a hash of the email, never the email itself) for the
``begin`` calls that name one, with its own, lower limit, so many addresses together cannot
hammer one account either.

Refused calls are not counted: a client that keeps retrying is let in again as soon as its
oldest accepted call leaves the window, which is exactly what ``Retry-After`` tells it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from app.auth.errors import RateLimited
from app.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_MAX_CLIENTS",
    "RATE_LIMIT_OPT",
    "CeremonyRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "account_key",
]

RATE_LIMIT_OPT = "auth_rate_limited"
_WINDOW_S = 60.0
DEFAULT_MAX_CLIENTS = 100_000
# Share of the table forgotten at once when it is full (amortises the selection).
_EVICT_FRACTION = 0.1

_log = get_logger("app.auth")


class RateLimiter(Protocol):
    """Counts one request of ``client``; raises a 429 :class:`RateLimited` over the limit."""

    async def check(self, client: str) -> None: ...


def account_key(email: str) -> str:
    """The limit key of an account: a hash of the normalised email (no address kept)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"account:{digest}"


def _refuse(per_minute: int, retry_after_s: float) -> RateLimited:
    retry_after = max(1, math.ceil(retry_after_s))
    return RateLimited(
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
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        self.per_minute = per_minute
        self.enabled = enabled
        self._clock = clock
        self.max_clients = max_clients
        # A plain list per client (a deque preallocates ~600 bytes: 88 MB for 100k clients).
        self._calls: dict[str, list[float]] = {}
        self._swept_at = clock()

    async def check(self, client: str) -> None:
        self.hit(client)

    def hit(self, client: str) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if now - self._swept_at >= _WINDOW_S:
            self._sweep(now)
        calls = self._calls.get(client)
        if calls is None:
            if len(self._calls) >= self.max_clients:
                self._sweep(now)
            if len(self._calls) >= self.max_clients:
                self._forget_lightest()
            calls = self._calls[client] = []
        if len(calls) >= self.per_minute:
            if calls[0] > now - _WINDOW_S:
                raise _refuse(self.per_minute, calls[0] + _WINDOW_S - now)
            del calls[0]  # the oldest call has left the window
        calls.append(now)

    def _forget_lightest(self) -> None:
        """Drop the clients with the fewest calls in the window (oldest last call first)."""
        count = max(1, int(self.max_clients * _EVICT_FRACTION))
        lightest = heapq.nsmallest(
            count,
            self._calls.items(),
            key=lambda item: (len(item[1]), item[1][-1] if item[1] else 0.0),
        )
        for client, _ in lightest:
            del self._calls[client]
        _log.warning("auth.rate_limit_table_full", forgotten=len(lightest), kept=len(self._calls))

    def _sweep(self, now: float) -> None:
        """Forget clients whose last call has left the window."""
        horizon = now - _WINDOW_S
        self._calls = {
            client: calls for client, calls in self._calls.items() if calls[-1] > horizon
        }
        self._swept_at = now


# KEYS[1]: the client's log. ARGV: now (s), window (s), limit, a unique member for this call.
# Returns -1 when the call is accepted, else the time (s) the oldest accepted call was made.
_SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return -1
"""


class RedisRateLimiter:
    """The sliding-window log in Redis: one sorted set ``<prefix>:<client>`` per client.

    Times come from the worker's wall clock (``time.time``); NTP-synchronised machines agree
    to well under a second, which is far below the one-minute window. If Redis cannot be
    reached the request is let through and a warning is logged: a rate limiter must not
    lock every user out while ``/health`` already reports Redis down.
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
        self._script = redis.register_script(_SLIDING_WINDOW_LUA)

    async def check(self, client: str) -> None:
        if not self.enabled:
            return
        from redis.exceptions import RedisError

        now = self._clock()
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        args: list[str | int] = [repr(now), repr(_WINDOW_S), self.per_minute, member]
        try:
            oldest = await self._script(keys=[f"{self.key_prefix}:{client}"], args=args)
        except (RedisError, OSError) as exc:
            _log.warning("auth.rate_limit_unavailable", error=type(exc).__name__)
            return
        if float(oldest) >= 0:
            raise _refuse(self.per_minute, float(oldest) + _WINDOW_S - now)
