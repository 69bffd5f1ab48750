"""Forecast points are never averaged with actuals: compare and month summaries.

``FixedSource`` flags every point after "now" (2026-11-26 06:00 UTC) as a forecast. The series
below are measured at 100 gCO2/kWh and forecast at 300 + hour, so any mean, minimum, maximum
or share that mixed the two would differ from the figures asserted here. Region ``ie`` is on
GMT in November and December, so local days are UTC days.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.tools.fixed_source import FixedSource
from tools.catalog_types import ToolContext
from tools.grid.tools import (
    GridCompareInput,
    GridIntensityInput,
    grid_compare,
    grid_intensity,
)

NOW = datetime(2026, 11, 26, 6, tzinfo=UTC)


def measured_then_forecast(ts: datetime) -> float:
    """100 up to now; 300 + the hour afterwards (forecasts 307..323 on the 26th)."""
    return 100.0 if ts <= NOW else 300.0 + ts.hour


def ctx() -> ToolContext:
    source = FixedSource(measured_then_forecast)
    return ToolContext(now=NOW.isoformat(), services={"grid_source": source})


def compare_input(second_start: str, second_end: str) -> GridCompareInput:
    return GridCompareInput(
        region="ie",
        first_start_date="2026-11-25",
        first_end_date="2026-11-25",
        second_start_date=second_start,
        second_end_date=second_end,
    )


async def test_compare_mean_is_of_actuals_with_forecasts_reported_apart() -> None:
    result = await grid_compare(compare_input("2026-11-26", "2026-11-26"), ctx())
    today = result.second
    # 00:00..06:00 measured (7 points), 07:00..23:00 forecast (17). The old mixed mean was
    # (7 * 100 + 17 * 315) / 24 = 252.29.
    assert (today.mean, today.min, today.max) == (100.0, 100.0, 100.0)
    assert today.basis == "actual"
    assert (today.points, today.actual_points, today.forecast_points) == (24, 7, 17)
    assert (today.forecast_mean, today.forecast_min, today.forecast_max) == (315.0, 307.0, 323.0)
    assert result.first.basis == "actual"
    assert result.first.forecast_mean is None
    assert result.difference == 0.0
    assert not result.uses_forecast
    assert "17 forecast points of the second range not in its mean" in result.summary()


async def test_compare_range_without_actuals_is_summarised_as_forecast() -> None:
    result = await grid_compare(compare_input("2026-11-27", "2026-11-27"), ctx())
    tomorrow = result.second
    assert tomorrow.basis == "forecast"
    assert (tomorrow.mean, tomorrow.min, tomorrow.max) == (311.5, 300.0, 323.0)
    assert (tomorrow.actual_points, tomorrow.forecast_points) == (0, 24)
    assert tomorrow.forecast_mean == 311.5
    assert result.difference == 211.5
    assert result.uses_forecast
    assert "forecast mean 312" in result.summary()


async def test_month_summaries_keep_forecasts_apart() -> None:
    out = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-01", end_date="2026-12-31"), ctx()
    )
    november, december = out.months
    # November: 25 * 24 + 7 measured points, 17 + 4 * 24 forecast ones. Mixed, the old
    # summary read mean 133.28, max 323 and 84.3% low.
    assert (november.mean, november.min, november.max) == (100.0, 100.0, 100.0)
    assert november.basis == "actual"
    assert (november.actual_points, november.forecast_points) == (607, 113)
    assert november.forecast_mean is not None
    assert (november.forecast_min, november.forecast_max) == (300.0, 323.0)
    assert november.low_share_pct == 100.0
    # December is all forecast, and says so.
    assert december.basis == "forecast"
    assert (december.mean, december.min, december.max) == (311.5, 300.0, 323.0)
    assert (december.actual_points, december.forecast_points) == (0, 31 * 24)
    assert december.forecast_mean == 311.5
    assert december.low_share_pct == 0.0
    assert out.for_model()["months"][1]["basis"] == "forecast"
