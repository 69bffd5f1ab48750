"""Grid CO2 intensity: the time-series model, data sources, a cache, and the analysis.

Hosts build the configured source with :func:`build_source` and put it in
``ToolContext.services["grid_source"]``; without one the tools use the synthetic source.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from tools.grid.cache import CachedGridSource
from tools.grid.eirgrid import EirGridSource
from tools.grid.file import FileGridSource
from tools.grid.model import (
    REGIONS,
    GridDataError,
    GridSeries,
    GridSource,
    IntensityPoint,
    Region,
)
from tools.grid.service import GRID_SOURCE_SERVICE
from tools.grid.synthetic import SyntheticGridSource
from tools.grid.uk import UKCarbonIntensitySource

__all__ = [
    "GRID_SOURCE_SERVICE",
    "REGIONS",
    "CachedGridSource",
    "EirGridSource",
    "FileGridSource",
    "GridDataError",
    "GridSeries",
    "GridSource",
    "IntensityPoint",
    "Region",
    "RegionRouter",
    "SyntheticGridSource",
    "UKCarbonIntensitySource",
    "build_source",
]


class RegionRouter:
    """Sends each region to the source that covers it (EirGrid for the island, UK for GB)."""

    def __init__(self, routes: dict[Region, GridSource], name: str) -> None:
        self.routes = routes
        self.name = name

    def supports(self, region: Region) -> bool:
        return region in self.routes

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        source = self.routes.get(region)
        if source is None:
            raise GridDataError(f"grid source {self.name!r} has no data for {region!r}")
        return await source.fetch(region, start, end, now)


def build_source(
    kind: Literal["synthetic", "eirgrid", "uk", "file"] | str = "synthetic",
    *,
    grid_file: str | None = None,
    eirgrid_base_url: str = "https://www.smartgriddashboard.com",
    uk_base_url: str = "https://api.carbonintensity.org.uk",
    http_timeout_s: float = 10.0,
    http_retries: int = 2,
    cache_ttl_s: float = 900.0,
    eirgrid_api: Literal["legacy", "chart"] = "legacy",
) -> GridSource:
    """The source named by config (``ToolsConfig`` fields, passed as plain values).

    ``eirgrid`` serves ie/ni/all from EirGrid and gb from the GB API; ``uk`` serves gb only;
    ``file`` serves ``grid_file``. Live and file sources sit behind the TTL cache.
    """
    if kind == "synthetic":
        return SyntheticGridSource()
    uk = UKCarbonIntensitySource(uk_base_url, timeout_s=http_timeout_s, retries=http_retries)
    inner: GridSource
    if kind == "eirgrid":
        eirgrid = EirGridSource(
            eirgrid_base_url, timeout_s=http_timeout_s, retries=http_retries, api=eirgrid_api
        )
        inner = RegionRouter({"ie": eirgrid, "ni": eirgrid, "all": eirgrid, "gb": uk}, "eirgrid")
    elif kind == "uk":
        inner = uk
    elif kind == "file":
        if not grid_file:
            raise ValueError("grid_source 'file' needs tools.grid_file (a CSV or JSON path)")
        inner = FileGridSource(grid_file)
    else:
        raise ValueError(f"unknown grid source {kind!r}; use synthetic, eirgrid, uk or file")
    return CachedGridSource(inner, ttl_s=cache_ttl_s)
