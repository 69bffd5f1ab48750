"""A GridSource serving a hand-written series, so tool outputs can be checked exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from tools.catalog_types import DataSource
from tools.grid.model import GridSeries, IntensityPoint, Region


class FixedSource:
    """Hourly points from ``value(ts)``; points after ``now`` are forecasts."""

    name = "fixed"

    def __init__(self, value: Callable[[datetime], float], step_minutes: int = 60) -> None:
        self.value = value
        self.step_minutes = step_minutes
        self.calls: list[tuple[Region, date, date]] = []

    def supports(self, region: Region) -> bool:
        return region != "gb"

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        self.calls.append((region, start, end))
        points = []
        ts = datetime(start.year, start.month, start.day, tzinfo=UTC)
        stop = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
        while ts < stop:
            points.append(IntensityPoint(ts, self.value(ts), ts > now))
            ts += timedelta(minutes=self.step_minutes)
        return GridSeries(
            region=region,
            start=start,
            end=end,
            step_minutes=self.step_minutes,
            points=tuple(points),
            source=DataSource(name="fixed test series", kind="grid_intensity", synthetic=False),
        )
