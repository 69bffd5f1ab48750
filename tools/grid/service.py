"""Resolve the grid source for a tool call and fetch a validated range through it."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from tools.catalog_types import ToolContext, ToolError
from tools.grid.model import GridSeries, GridSource, Region
from tools.grid.synthetic import SyntheticGridSource
from tools.grid.zones import local_bounds, region_zone, utc_days

__all__ = ["GRID_SOURCE_SERVICE", "MAX_SPAN_DAYS", "fetch_range", "source_from_context"]

GRID_SOURCE_SERVICE = "grid_source"  # the ToolContext.services key hosts put their source under
MAX_SPAN_DAYS = 366

_DEFAULT = SyntheticGridSource()


def source_from_context(ctx: ToolContext) -> GridSource:
    """The host's configured source, or the offline synthetic one."""
    candidate = ctx.services.get(GRID_SOURCE_SERVICE)
    if isinstance(candidate, GridSource):
        return candidate
    return _DEFAULT


async def fetch_range(
    source: GridSource, region: Region, start: date, end: date, now: datetime
) -> GridSeries:
    """Validate the range of the region's LOCAL days ``start``..``end``, then fetch.

    Sources deliver whole UTC days; the UTC days covering the local ones are fetched and the
    points trimmed to [local ``start`` 00:00, local day after ``end`` 00:00), so the series
    (still UTC points) has ``start``/``end`` = the local dates. A local day is 23 or 25 hours
    on the days the clocks change. Empty results are an error the model can act on.
    """
    if end < start:
        raise ToolError(f"end date {end} is before start date {start}")
    span = (end - start).days + 1
    if span > MAX_SPAN_DAYS:
        raise ToolError(f"range of {span} days is too long; at most {MAX_SPAN_DAYS} days")
    if not source.supports(region):
        raise ToolError(f"the configured grid source {source.name!r} has no data for {region!r}")
    zone = region_zone(region)
    utc_start, utc_end = utc_days(zone, start, end)
    fetched = await source.fetch(region, utc_start, utc_end, now)
    first, last = local_bounds(zone, start, end)
    series = msgspec.structs.replace(
        fetched,
        start=start,
        end=end,
        points=tuple(p for p in fetched.points if first <= p.ts < last),
    )
    if not series.points:
        raise ToolError(f"no grid intensity data for {region} between {start} and {end}")
    return series
