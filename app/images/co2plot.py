"""The predecessor's grid plots, ``co2plot_{day|month}_{region}_{start}_{end}.png``, on demand.

The predecessor saved PNGs under these names and its web client still loads them with a
plain ``<img>`` (``co2plot_day_all_2026-03-01_2026-03-01.png``: the all-island intensity of
that day). Here the name is a query: it is parsed strictly (:func:`parse_co2plot_name`), the
series comes from the configured grid source through the tools' ``fetch_range`` (the same
data, local days and cache the runs use), and the PNG is drawn by the tools' matplotlib
chart code in the chart renderer's process, never on the event loop. Nothing is read from or
written to disk by name, so no name can reach a path.

Limits keep a public endpoint cheap: a ``day`` plot spans 1 to :data:`MAX_DAY_SPAN_DAYS`
days, a ``month`` plot at most :data:`MAX_MONTH_SPAN_DAYS`; dates run from
:data:`EARLIEST_DATE` to :data:`FORECAST_HORIZON_DAYS` after the region's today. A chart of
synthetic data says so in its title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from app.images.errors import (
    DateOutOfRange,
    GridSourceUnavailable,
    ImageNotFound,
    InvalidDate,
    InvalidPeriod,
    InvalidPlotName,
    InvalidRange,
    NoGridData,
    UnknownRegion,
)
from tools.catalog_types import ToolError
from tools.grid.model import REGION_NAMES, REGIONS, GridDataError, GridSeries, GridSource, Region
from tools.grid.service import fetch_range
from tools.grid.tools import intensity_view
from tools.grid.zones import local_date, region_zone
from tools.render.charts import grid_chart
from tools.render.executor import ChartRenderer
from tools.render.labels import SYNTHETIC_LABEL

__all__ = [
    "CO2PLOT_PREFIX",
    "EARLIEST_DATE",
    "FORECAST_HORIZON_DAYS",
    "MAX_DAY_SPAN_DAYS",
    "MAX_MONTH_SPAN_DAYS",
    "SYNTHETIC_LABEL",
    "Co2Plot",
    "chart_arguments",
    "parse_co2plot_name",
    "render_co2plot",
]

CO2PLOT_PREFIX = "co2plot_"
MAX_DAY_SPAN_DAYS = 7
MAX_MONTH_SPAN_DAYS = 31
EARLIEST_DATE = date(2000, 1, 1)
FORECAST_HORIZON_DAYS = 2

Period = Literal["day", "month"]
_NAME = re.compile(
    r"co2plot_(?P<period>[A-Za-z]{1,16})_(?P<region>[A-Za-z]{1,16})"
    r"_(?P<start>[0-9-]{1,16})_(?P<end>[0-9-]{1,16})\.png"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PATTERN_HINT = "co2plot_{day|month}_{region}_{YYYY-MM-DD}_{YYYY-MM-DD}.png"


@dataclass(frozen=True, slots=True)
class Co2Plot:
    """A validated plot request: ``start``..``end`` are the region's local days."""

    period: Period
    region: Region
    start: date
    end: date

    @property
    def key(self) -> str:
        return f"{self.period}:{self.region}:{self.start}:{self.end}"

    def is_over(self, now: datetime) -> bool:
        """Whether every day plotted has ended in the region (its data will not change)."""
        return self.end < local_date(now, region_zone(self.region))


def _bad(error: type[InvalidPlotName], detail: str) -> InvalidPlotName:
    return error(f"{detail} (image names: {_PATTERN_HINT}).")


def _date(raw: str, which: str) -> date:
    if not _ISO_DATE.fullmatch(raw):
        raise _bad(InvalidDate, f"The {which} date {raw!r} is not a YYYY-MM-DD date")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _bad(InvalidDate, f"The {which} date {raw!r} does not exist") from None


def parse_co2plot_name(name: str, now: datetime) -> Co2Plot:
    """Validate a ``co2plot_…`` image name; :class:`ImageNotFound` when it is not of that
    form at all, 400 with a stable ``code`` when a part is wrong."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ImageNotFound(f"No image named {name!r} (grid plots: {_PATTERN_HINT}).")
    period = match["period"].lower()
    if period not in ("day", "month"):
        raise _bad(InvalidPeriod, f"Unknown plot period {match['period']!r}; use day or month")
    region_text = match["region"].lower()
    region = next((known for known in REGIONS if known == region_text), None)
    if region is None:
        raise _bad(
            UnknownRegion,
            f"Unknown region {match['region']!r}; use one of {', '.join(REGIONS)}",
        )
    start, end = _date(match["start"], "start"), _date(match["end"], "end")
    if end < start:
        raise _bad(InvalidRange, f"The end date {end} is before the start date {start}")
    span = (end - start).days + 1
    limit = MAX_DAY_SPAN_DAYS if period == "day" else MAX_MONTH_SPAN_DAYS
    if span > limit:
        raise _bad(
            InvalidRange,
            f"A {period} plot spans at most {limit} days; {start}..{end} is {span} days",
        )
    latest = local_date(now, region_zone(region)) + timedelta(days=FORECAST_HORIZON_DAYS)
    if start < EARLIEST_DATE or end > latest:
        raise _bad(
            DateOutOfRange,
            f"Plots cover {EARLIEST_DATE} to {latest} (forecasts reach "
            f"{FORECAST_HORIZON_DAYS} days ahead); {start}..{end} is outside",
        )
    kind: Period = "day" if period == "day" else "month"
    return Co2Plot(period=kind, region=region, start=start, end=end)


def _title(plot: Co2Plot, region_name: str) -> str:
    """Two lines: what and where, then when (tools.render adds the synthetic label)."""
    when = str(plot.start) if plot.start == plot.end else f"{plot.start} to {plot.end}"
    return f"Grid carbon intensity, {region_name}\n{when}"


async def render_co2plot(
    plot: Co2Plot, source: GridSource, renderer: ChartRenderer, now: datetime
) -> bytes:
    """Fetch the series and draw the PNG. 404 ``no_grid_data`` when the source has nothing
    for the region and days, 503 ``grid_source_unavailable`` when the source failed."""
    try:
        series = await fetch_range(source, plot.region, plot.start, plot.end, now)
    except GridDataError as exc:
        raise GridSourceUnavailable(f"The grid data source failed: {exc}") from exc
    except ToolError as exc:
        raise NoGridData(f"No grid data for this plot: {exc}.") from exc
    kwargs = chart_arguments(plot, series)
    return await renderer.render(grid_chart, **kwargs, fmt="png")


def chart_arguments(plot: Co2Plot, series: GridSeries) -> dict[str, Any]:
    """The arguments of ``tools.render.charts.grid_chart`` for this plot (all but ``fmt``):
    the series with its low/medium/high bands, titled with the region and days, and
    labelled when the data is synthetic."""
    view = intensity_view(series)
    return {
        "title": _title(plot, REGION_NAMES[plot.region]),
        "synthetic": any(s.synthetic for s in view.sources),
        "actual": view.points,
        "forecast": view.forecast_points,
        "cuts": view.thresholds,
        "window": None,
        "zone": region_zone(plot.region),
    }
