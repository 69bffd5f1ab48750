"""Forecast points are never averaged with actuals: compare, month summaries, thresholds.

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
    BestWindowInput,
    GridCompareInput,
    GridIntensityInput,
    grid_best_window,
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
    payload = out.for_model()
    assert "ACTUAL points only" in payload["forecast_note"]
    assert payload["months"][1]["basis"] == "forecast"


async def test_thresholds_name_their_basis_and_level_counts_are_split() -> None:
    out = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-01", end_date="2026-12-31"), ctx()
    )
    # Daily view: 26 actual daily means of 100; 36 forecast ones (315 on the 26th, 311.5 on
    # the others). One scale over all 62: p33 rank 20.13 -> 100, p66 rank 40.26 -> 311.5.
    cuts = out.thresholds
    assert (cuts.p33, cuts.p66) == (100.0, 311.5)
    assert cuts.basis == "actual+forecast"
    assert (cuts.actual_points, cuts.forecast_points) == (26, 36)
    assert out.level_counts == {"low": 26, "medium": 0, "high": 0}
    assert out.forecast_level_counts == {"low": 0, "medium": 35, "high": 1}
    assert "actual+forecast points" in out.summary()


async def test_thresholds_of_a_day_reaching_the_future_rank_the_whole_day() -> None:
    today = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-26", end_date="2026-11-26"), ctx()
    )
    # 7 measured 100s and forecasts 307..323: p33 rank 7.59 -> 307.59, p66 rank 15.18 ->
    # 315.18. Cut over the 7 actuals alone (100, 100), every forecast hour would be "high".
    assert (today.thresholds.p33, today.thresholds.p66) == (307.59, 315.18)
    assert today.thresholds.basis == "actual+forecast"
    assert today.forecast_level_counts == {"low": 1, "medium": 8, "high": 8}
    assert today.stats is not None
    assert today.stats.mean == 100.0
    assert today.forecast_stats is not None
    assert today.forecast_stats.mean == 315.0
    assert "forecast mean 315 (not in the actual figures)" in today.summary()
    # grid_best_window ranks its window on the same scale.
    best = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=2, date="2026-11-26"), ctx()
    )
    assert best.thresholds == today.thresholds
    # Its day mean is the whole day's, and says how much of it is forecast.
    assert best.day_mean == round((7 * 100 + 17 * 315) / 24, 2)
    assert (best.day_points, best.day_forecast_points) == (24, 17)
    past = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-24", end_date="2026-11-24"), ctx()
    )
    assert past.thresholds.basis == "actual"
    assert "forecast_note" not in past.for_model()
    future = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-28", end_date="2026-11-28"), ctx()
    )
    assert (future.thresholds.basis, future.thresholds.forecast_points) == ("forecast", 24)
    assert future.level_counts == {"low": 0, "medium": 0, "high": 0}
