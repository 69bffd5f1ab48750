"""What the live grid sources (EirGrid, GB Carbon Intensity) share: value checks and the series.

Both publish gCO2/kWh numbers that must be validated the same way, and both return their
points as a measured (non-synthetic) :class:`GridSeries` trimmed to the requested days.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from tools.catalog_types import DataSource
from tools.grid.model import GridDataError, GridSeries, IntensityPoint, Region

__all__ = ["intensity_value", "live_series"]

_MAX_PLAUSIBLE = 2000.0  # gCO2/kWh; anything above is a broken payload, not a grid


def intensity_value(value: Any, where: str) -> float | None:
    """``None`` for a slot not yet published; otherwise a plausible finite intensity."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GridDataError(f"{where} is not a number: {value!r}")
    if not math.isfinite(value) or not 0.0 <= value <= _MAX_PLAUSIBLE:
        raise GridDataError(f"{where} is implausible: {value!r}")
    return float(value)


def live_series(
    region: Region,
    start: date,
    end: date,
    step_minutes: int,
    points: dict[datetime, IntensityPoint],
    *,
    name: str,
    detail: str,
    url: str,
) -> GridSeries:
    """The points on UTC days ``start``..``end``, sorted, with the upstream's provenance."""
    in_range = [p for ts, p in sorted(points.items()) if start <= ts.date() <= end]
    return GridSeries(
        region=region,
        start=start,
        end=end,
        step_minutes=step_minutes,
        points=tuple(in_range),
        source=DataSource(
            name=name, kind="grid_intensity", synthetic=False, detail=detail, url=url
        ),
    )
