"""Per-IP fixed-window rate limit for the public ceremony and refresh endpoints.

In-process and synchronous (no await between read and write, so it is exact within a
worker); with several workers each enforces the limit on its own share of the traffic. Only
the current window's counters are kept, so memory is bounded by the distinct clients seen in
one minute (and hard-capped).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from app.auth.errors import AuthError

__all__ = ["RATE_LIMIT_OPT", "CeremonyRateLimiter"]

RATE_LIMIT_OPT = "auth_rate_limited"
_WINDOW_S = 60.0
_MAX_CLIENTS = 100_000


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
            retry_after = math.ceil((window + 1) * _WINDOW_S - now)
            raise AuthError.too_many(
                f"Too many sign-in requests: at most {self.per_minute} per minute; "
                f"retry in {retry_after} s",
                retry_after,
            )
        self._counts[client] = count
