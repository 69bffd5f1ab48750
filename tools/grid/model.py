"""The grid CO2 intensity time series model and the interface every data source implements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Protocol, get_args, runtime_checkable

import msgspec

from tools.catalog_types import DataSource, ToolError

__all__ = [
    "REGIONS",
    "REGION_NAMES",
    "GridDataError",
    "GridSeries",
    "GridSource",
    "IntensityPoint",
    "Region",
    "check_region",
]

Region = Literal["ie", "ni", "all", "gb"]
REGIONS: tuple[Region, ...] = get_args(Region)
REGION_NAMES: dict[Region, str] = {
    "ie": "Republic of Ireland",
    "ni": "Northern Ireland",
    "all": "all-island (Ireland + Northern Ireland)",
    "gb": "Great Britain",
}


class GridDataError(ToolError):
    """A grid source could not deliver valid data (network failure, bad upstream payload)."""


class IntensityPoint(msgspec.Struct, frozen=True, array_like=True):
    """One reading: the interval starting at ``ts`` (UTC) had ``value`` gCO2/kWh.

    ``forecast`` marks predicted values so they are never mixed silently with actuals.
    """

    ts: datetime
    value: float
    forecast: bool = False


class GridSeries(msgspec.Struct, frozen=True, kw_only=True):
    """Points for one region and an inclusive date range, sorted by time, with provenance.

    From a source, ``start``..``end`` are UTC days; the tools' ``fetch_range`` trims a series
    to the region's LOCAL days and sets them here (the points themselves are always UTC).
    """

    region: Region
    start: date
    end: date
    step_minutes: int
    points: tuple[IntensityPoint, ...]
    source: DataSource


@runtime_checkable
class GridSource(Protocol):
    """Anything that can produce intensity points: synthetic, EirGrid, UK API, a file, a cache."""

    name: str

    def supports(self, region: Region) -> bool:
        """Whether this source has data for ``region``."""
        ...

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        """Points whose timestamps fall on UTC days ``start``..``end`` (inclusive).

        ``now`` decides which points are forecasts (sources that predict) and whether a
        range is complete (caches).
        """
        ...


def check_region(region: str) -> Region:
    """Validate a region code from user or model input (case and spaces ignored)."""
    wanted = region.strip().lower()
    for known in REGIONS:
        if wanted == known:
            return known
    raise ToolError(f"unknown region {region!r}; use one of {', '.join(REGIONS)}")
