"""A TTL cache in front of a live grid source.

Complete past ranges are cached for ``ttl_s``. A range that includes today or the future is
still changing (new actuals replace forecasts), so it is kept for at most ``live_ttl_s`` and
never treated as final — the predecessor cached today's partial data forever.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime

from tools.grid.model import GridSeries, GridSource, Region

__all__ = ["CachedGridSource"]


class CachedGridSource:
    def __init__(
        self,
        inner: GridSource,
        *,
        ttl_s: float = 900.0,
        live_ttl_s: float = 60.0,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.ttl_s = ttl_s
        self.live_ttl_s = min(live_ttl_s, ttl_s)
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[Region, date, date], tuple[float, GridSeries]] = (
            OrderedDict()
        )

    def supports(self, region: Region) -> bool:
        return self.inner.supports(region)

    @staticmethod
    def is_final(end: date, now: datetime) -> bool:
        """A range is final once its last day is over (UTC)."""
        return end < now.date()

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        key = (region, start, end)
        hit = self._entries.get(key)
        current = self._clock()
        if hit is not None and hit[0] > current:
            self._entries.move_to_end(key)
            return hit[1]
        series = await self.inner.fetch(region, start, end, now)
        ttl = self.ttl_s if self.is_final(end, now) else self.live_ttl_s
        if ttl > 0:
            self._entries[key] = (current + ttl, series)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return series
