"""The offline grid source: a deterministic, clearly labelled synthetic intensity profile.

Shape: a daily demand curve in the region's LOCAL time (night trough, morning and evening
peaks; in summer they come an hour earlier in UTC) plus wind-driven
variability. The wind level is drawn per date from a seed derived from the date alone (so
the island regions see the same "weather") and interpolated between days so the series is
continuous across midnight. Same region and date always give the same numbers.
"""

from __future__ import annotations

import functools
import math
import random
import zlib
from datetime import UTC, date, datetime, timedelta

from tools.catalog_types import DataSource
from tools.cpu import run_cpu_bound
from tools.grid.model import GridSeries, IntensityPoint, Region
from tools.grid.zones import region_zone

__all__ = ["SyntheticGridSource", "synthetic_value_range"]

# Realistic bounds per region, gCO2/kWh (all-island roughly 80-400 as EirGrid publishes).
_RANGES: dict[Region, tuple[float, float]] = {
    "all": (80.0, 400.0),
    "ie": (70.0, 410.0),
    "ni": (90.0, 450.0),
    "gb": (30.0, 330.0),
}
_STEP_MINUTES: dict[Region, int] = {"all": 15, "ie": 15, "ni": 15, "gb": 30}
# Generating a day costs ~0.2 ms of pure Python: ranges longer than this are generated on the
# tools' CPU thread so a month or a year does not hold the caller's event loop (a thread hop
# costs more than generating a day or two).
_INLINE_DAYS = 2


def synthetic_value_range(region: Region) -> tuple[float, float]:
    """The (min, max) gCO2/kWh the synthetic profile of ``region`` stays within."""
    return _RANGES[region]


def _rng(kind: str, day: date, region: str = "") -> random.Random:
    seed = zlib.crc32(f"{kind}:{region}:{day.isoformat()}".encode())
    return random.Random(seed)


def _wind(day: date, region: Region) -> float:
    """Wind level 0..1 for a day (GB has its own weather, the island shares one)."""
    weather = "gb" if region == "gb" else "island"
    return _rng("wind", day, weather).random()


def _bump(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24.0 - abs(hour - centre))
    return math.exp(-((distance / width) ** 2))


@functools.cache  # 96 distinct hours at most; this was ~40% of generating a day
def _demand_shape(hour: float) -> float:
    """0..1: low at night, a morning shoulder and an evening peak."""
    raw = 0.55 * _bump(hour, 8.5, 2.5) + 0.9 * _bump(hour, 18.0, 2.5) - 0.4 * _bump(hour, 4.0, 3.0)
    return (raw + 0.4) / 1.3


class SyntheticGridSource:
    """Generated data for every region. Each result is tagged ``synthetic`` in its source."""

    name = "synthetic"

    def supports(self, region: Region) -> bool:
        return region in _RANGES

    def day_points(self, region: Region, day: date, now: datetime) -> list[IntensityPoint]:
        """All points of one UTC day; those after ``now`` are flagged as forecasts."""
        low, high = _RANGES[region]
        step = _STEP_MINUTES[region]
        wind_prev, wind_today, wind_next = (
            _wind(day - timedelta(days=1), region),
            _wind(day, region),
            _wind(day + timedelta(days=1), region),
        )
        noise = _rng("noise", day, region)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        zone = region_zone(region)
        drift = 0.0
        points: list[IntensityPoint] = []
        for index in range(24 * 60 // step):
            hour = index * step / 60.0
            # Wind anchored at noon, blended linearly towards the neighbouring days.
            if hour < 12.0:
                frac = (hour + 12.0) / 24.0
                wind = wind_prev + (wind_today - wind_prev) * frac
            else:
                frac = (hour - 12.0) / 24.0
                wind = wind_today + (wind_next - wind_today) * frac
            drift = 0.8 * drift + noise.gauss(0.0, 0.02)
            ts = start + timedelta(minutes=index * step)
            offset = zone.utcoffset(ts)  # people use power by the local clock
            local_hour = (hour + (offset.total_seconds() / 3600.0 if offset else 0.0)) % 24.0
            level = 0.1 + 0.6 * (1.0 - wind) + 0.3 * _demand_shape(local_hour) + drift
            level = min(max(level, 0.0), 1.0)
            value = round(low + (high - low) * level, 1)
            points.append(IntensityPoint(ts, value, ts > now))
        return points

    def range_points(
        self, region: Region, start: date, end: date, now: datetime
    ) -> list[IntensityPoint]:
        points: list[IntensityPoint] = []
        day = start
        while day <= end:
            points.extend(self.day_points(region, day, now))
            day += timedelta(days=1)
        return points

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        if (end - start).days < _INLINE_DAYS:
            points = self.range_points(region, start, end, now)
        else:
            points = await run_cpu_bound(self.range_points, region, start, end, now)
        return GridSeries(
            region=region,
            start=start,
            end=end,
            step_minutes=_STEP_MINUTES[region],
            points=tuple(points),
            source=DataSource(
                name="synthetic grid profile",
                kind="grid_intensity",
                synthetic=True,
                detail=(
                    "SYNTHETIC: generated daily demand shape with date-seeded wind variability; "
                    "not measured data"
                ),
            ),
        )
