"""The grid tools end to end on the synthetic source and on hand-written series."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.tools.fixed_source import FixedSource
from tools.catalog_types import ToolContext, ToolError
from tools.grid.model import check_region
from tools.grid.synthetic import SyntheticGridSource, synthetic_value_range
from tools.grid.tools import (
    BestWindowInput,
    GridCompareInput,
    GridIntensityInput,
    grid_best_window,
    grid_compare,
    grid_intensity,
)

NOW = "2026-11-26T06:00:00+00:00"


def ctx_with(source: object | None = None, now: str = NOW) -> ToolContext:
    services = {} if source is None else {"grid_source": source}
    return ToolContext(now=now, services=services)


def dip(ts: datetime) -> float:
    """300 all day except 100 from 13:00 to 16:00 UTC."""
    return 100.0 if 13 <= ts.hour < 16 else 300.0


async def test_synthetic_source_is_deterministic_and_in_range() -> None:
    source = SyntheticGridSource()
    now = datetime(2026, 11, 26, 9, tzinfo=UTC)
    first = await source.fetch("all", date(2026, 11, 20), date(2026, 11, 27), now)
    second = await source.fetch("all", date(2026, 11, 20), date(2026, 11, 27), now)
    assert first == second
    assert len(first.points) == 8 * 96
    low, high = synthetic_value_range("all")
    assert all(low <= p.value <= high for p in first.points)
    assert all(p.forecast == (p.ts > now) for p in first.points)
    assert first.source.synthetic
    gb = await source.fetch("gb", date(2026, 11, 26), date(2026, 11, 26), now)
    assert len(gb.points) == 48
    assert gb.step_minutes == 30


async def test_synthetic_days_differ_and_regions_differ() -> None:
    source = SyntheticGridSource()
    now = datetime(2027, 1, 1, tzinfo=UTC)
    monday = await source.fetch("ie", date(2026, 11, 23), date(2026, 11, 23), now)
    tuesday = await source.fetch("ie", date(2026, 11, 24), date(2026, 11, 24), now)
    northern = await source.fetch("ni", date(2026, 11, 23), date(2026, 11, 23), now)
    assert [p.value for p in monday.points] != [p.value for p in tuesday.points]
    assert [p.value for p in monday.points] != [p.value for p in northern.points]


async def test_grid_intensity_raw_view_on_synthetic_data() -> None:
    result = await grid_intensity(
        GridIntensityInput(region="all", start_date="2026-11-24", end_date="2026-11-26"),
        ctx_with(),
    )
    assert result.view == "raw"
    assert result.view_step_minutes == 15
    assert result.raw_points == 3 * 96
    assert len(result.points) + len(result.forecast_points) == 3 * 96
    assert all(p.forecast for p in result.forecast_points)
    assert result.forecast_points[0].ts == datetime(2026, 11, 26, 6, 15, tzinfo=UTC)
    assert result.synthetic
    assert "SYNTHETIC" in result.summary()
    assert result.stats is not None
    actual_values = [p.value for p in result.points]
    assert result.stats.mean == round(sum(actual_values) / len(actual_values), 2)
    assert result.stats.min == min(actual_values)
    assert sum(result.level_counts.values()) == len(result.points)  # actuals only
    assert sum(result.forecast_level_counts.values()) == len(result.forecast_points)
    assert sum(p.points for p in result.periods) == 3 * 96
    assert not result.months


async def test_grid_intensity_hourly_and_daily_views() -> None:
    hourly = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-01", end_date="2026-11-10"),
        ctx_with(),
    )
    assert hourly.view == "hourly"
    assert hourly.view_step_minutes == 60
    assert len(hourly.points) == 10 * 24
    daily = await grid_intensity(
        GridIntensityInput(region="gb", start_date="2026-08-15", end_date="2026-10-20"),
        ctx_with(),
    )
    assert daily.view == "daily"
    assert len(daily.points) == 67
    assert [m.month for m in daily.months] == ["2026-08", "2026-09", "2026-10"]
    assert daily.months[0].start_date == date(2026, 8, 15)
    assert daily.months[-1].end_date == date(2026, 10, 20)
    payload = daily.for_model()
    assert len(payload["points"]) == 67  # 67 daily points fit the model payload
    assert payload["point_format"] == ["ts", "gCO2/kWh", "forecast"]
    raw = await grid_intensity(
        GridIntensityInput(region="gb", start_date="2026-11-01", end_date="2026-11-05"),
        ctx_with(),
    )
    assert isinstance(raw.for_model()["points"], str)  # 240 raw points are summarised


async def test_grid_intensity_exact_stats_on_a_fixed_series() -> None:
    result = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-20", end_date="2026-11-20"),
        ctx_with(FixedSource(dip)),
    )
    assert not result.synthetic
    assert result.stats is not None
    assert result.stats.mean == 275.0  # (21 * 300 + 3 * 100) / 24
    # 24 values: three 100s then 300s; p33 rank 7.59 and p66 rank 15.18 both land on 300.
    assert (result.thresholds.p33, result.thresholds.p66) == (300.0, 300.0)
    assert [(p.level, p.points) for p in result.periods] == [("low", 24)]


async def test_best_window_exact_savings() -> None:
    result = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=3, date="2026-11-26", energy_kwh=10.0),
        ctx_with(FixedSource(dip)),
    )
    assert result.window.start == datetime(2026, 11, 26, 13, tzinfo=UTC)
    assert result.window.end == datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert result.window.mean == 100.0
    assert result.now_window is not None
    assert result.now_window.start == datetime(2026, 11, 26, 6, tzinfo=UTC)
    assert result.saving_vs_now == 200.0
    assert result.saving_vs_now_pct == 66.67
    assert result.day_mean == 275.0
    assert result.saving_vs_day_mean == 175.0
    assert result.saving_vs_day_mean_pct == 63.64
    assert result.saving_vs_now_kg == 2.0  # 200 g/kWh x 10 kWh
    assert result.saving_vs_day_mean_kg == 1.75
    assert result.level == "low"
    assert result.uses_forecast  # 13:00 is after "now" (06:00)


async def test_best_window_ignores_the_past_when_the_range_reaches_now() -> None:
    def early_dip(ts: datetime) -> float:
        if 2 <= ts.hour < 5:
            return 50.0
        return 150.0 if 20 <= ts.hour < 23 else 300.0

    result = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=3, date="2026-11-26"),
        ctx_with(FixedSource(early_dip)),
    )
    assert result.window.start.hour == 20
    past = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=3, date="2026-11-25"),
        ctx_with(FixedSource(early_dip)),
    )
    assert past.window.start == datetime(2026, 11, 25, 2, tzinfo=UTC)
    assert past.now_window is None
    assert past.saving_vs_now is None


async def test_best_window_respects_hour_bounds_and_defaults_to_today() -> None:
    result = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=2, earliest_hour=17, latest_hour=22),
        ctx_with(FixedSource(lambda ts: 400.0 - ts.hour * 10)),
    )
    # Decreasing through the day; the latest allowed 2 h window is 20:00-22:00.
    assert result.window.start == datetime(2026, 11, 26, 20, tzinfo=UTC)
    assert result.window.end == datetime(2026, 11, 26, 22, tzinfo=UTC)
    assert result.start_date == date(2026, 11, 26)


async def test_best_window_on_synthetic_data_is_synthetic_and_in_the_future() -> None:
    result = await grid_best_window(
        BestWindowInput(region="all", duration_hours=3), ctx_with(now="2026-11-26T09:00:00Z")
    )
    assert result.synthetic
    assert result.window.start >= datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert result.window.end - result.window.start == timedelta(hours=3)
    assert "SYNTHETIC" in result.summary()


async def test_grid_compare_exact() -> None:
    def by_day(ts: datetime) -> float:
        return 200.0 if ts.day <= 10 else 150.0

    result = await grid_compare(
        GridCompareInput(
            region="all",
            first_start_date="2026-11-01",
            first_end_date="2026-11-10",
            second_start_date="2026-11-11",
            second_end_date="2026-11-20",
        ),
        ctx_with(FixedSource(by_day)),
    )
    assert (result.first.mean, result.second.mean) == (200.0, 150.0)
    assert result.difference == -50.0
    assert result.pct_change == -25.0
    assert result.first.points == 240
    assert "-25.0%" in result.summary()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (GridIntensityInput(region="ie", start_date="2026-11-05", end_date="2026-11-01"), "before"),
        (
            GridIntensityInput(region="ie", start_date="2024-01-01", end_date="2026-01-01"),
            "too long",
        ),
        (
            GridIntensityInput(region="ie", start_date="last week", end_date="2026-01-01"),
            "ISO date",
        ),
    ],
)
async def test_grid_intensity_rejects_bad_input(args: GridIntensityInput, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await grid_intensity(args, ctx_with())


def test_unknown_region_codes_are_rejected() -> None:
    assert check_region("ni") == "ni"
    assert check_region(" IE ") == "ie"
    with pytest.raises(ToolError, match="unknown region 'xx'; use one of ie, ni, all, gb"):
        check_region("xx")


async def test_unsupported_region_of_the_configured_source() -> None:
    with pytest.raises(ToolError, match="no data for 'gb'"):
        await grid_intensity(
            GridIntensityInput(region="gb", start_date="2026-11-01", end_date="2026-11-01"),
            ctx_with(FixedSource(dip)),
        )


async def test_best_window_rejects_bad_durations_and_hours() -> None:
    with pytest.raises(ToolError, match="duration_hours"):
        await grid_best_window(BestWindowInput(region="ie", duration_hours=0), ctx_with())
    with pytest.raises(ToolError, match="energy_kwh"):
        await grid_best_window(
            BestWindowInput(region="ie", duration_hours=2, energy_kwh=-5), ctx_with()
        )
    with pytest.raises(ToolError, match="earliest_hour"):
        await grid_best_window(
            BestWindowInput(region="ie", duration_hours=2, earliest_hour=20, latest_hour=10),
            ctx_with(),
        )
    with pytest.raises(ToolError, match="no contiguous"):
        await grid_best_window(
            BestWindowInput(region="ie", duration_hours=4, earliest_hour=22, latest_hour=24),
            ctx_with(),
        )


async def test_grid_intensity_means_per_day_week_and_hour_of_day() -> None:
    # Each UTC day d of November has the value 100 + d (Dublin is UTC in November), and the
    # hour 13:00 is 50 lower: the greenest day is the 16th, the greenest hour 13:00.
    def value(ts: datetime) -> float:
        return 100.0 + ts.day - (50.0 if ts.hour == 13 else 0.0)

    result = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-16", end_date="2026-11-25"),
        ctx_with(FixedSource(value)),
    )
    days = {d.key: d for d in result.days}
    assert list(days) == [f"2026-11-{n}" for n in range(16, 26)]
    assert days["2026-11-16"].mean == round(100 + 16 - 50 / 24, 2)
    assert days["2026-11-16"].basis == "actual"
    assert (days["2026-11-16"].start_date, days["2026-11-16"].end_date) == (
        date(2026, 11, 16),
        date(2026, 11, 16),
    )
    # ISO weeks: 2026-W47 is Mon 16 to Sun 22; W48 starts Mon 23 (clipped to the range end).
    assert [(w.key, w.start_date, w.end_date) for w in result.weeks] == [
        ("2026-W47", date(2026, 11, 16), date(2026, 11, 22)),
        ("2026-W48", date(2026, 11, 23), date(2026, 11, 25)),
    ]
    hours = {h.key: h.mean for h in result.hours_of_day}
    assert len(hours) == 24
    assert min(hours, key=lambda key: hours[key]) == "13"
    assert hours["13"] == round(100 + 20.5 - 50, 2)  # the mean day is 20.5


async def test_a_day_of_forecasts_is_ranked_on_its_forecast_and_says_so() -> None:
    result = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-11-25", end_date="2026-11-27"),
        ctx_with(FixedSource(dip)),
    )
    basis = {d.key: (d.basis, d.actual_points, d.forecast_points) for d in result.days}
    assert basis["2026-11-25"] == ("actual", 24, 0)
    assert basis["2026-11-27"] == ("forecast", 0, 24)
