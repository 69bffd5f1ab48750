"""Grid tools in the region's local time: local days (23/25 h on clock changes), local hour
limits, daily means per local day, and local times (with UTC when it differs) in summaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.tools.fixed_source import FixedSource
from tools.catalog import get_tool
from tools.catalog_types import ToolContext
from tools.grid import synthetic
from tools.grid.synthetic import SyntheticGridSource
from tools.grid.tools import (
    BestWindowInput,
    GridCompareInput,
    GridIntensityInput,
    grid_best_window,
    grid_compare,
    grid_intensity,
)
from tools.grid.zones import (
    REGION_TIMEZONES,
    local_bounds,
    local_span,
    local_stamp,
    region_zone,
    utc_days,
)

DUBLIN = ZoneInfo("Europe/Dublin")
SUMMER_NOW = "2026-07-14T06:00:00+00:00"
WINTER_NOW = "2026-11-26T06:00:00+00:00"


def ctx_with(source: object, now: str) -> ToolContext:
    return ToolContext(now=now, services={"grid_source": source})


def flat(ts: datetime) -> float:
    return 200.0


def test_region_zones() -> None:
    assert REGION_TIMEZONES == {
        "ie": "Europe/Dublin",
        "all": "Europe/Dublin",
        "ni": "Europe/London",
        "gb": "Europe/London",
    }
    assert region_zone("gb") == ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("day", "hours", "first_utc"),
    [
        (date(2026, 7, 15), 24, datetime(2026, 7, 14, 23, tzinfo=UTC)),
        (date(2026, 11, 27), 24, datetime(2026, 11, 27, 0, tzinfo=UTC)),
        (date(2026, 3, 29), 23, datetime(2026, 3, 29, 0, tzinfo=UTC)),  # clocks go forward
        (date(2026, 10, 25), 25, datetime(2026, 10, 24, 23, tzinfo=UTC)),  # clocks go back
    ],
)
def test_local_day_bounds(day: date, hours: int, first_utc: datetime) -> None:
    for region in ("ie", "gb"):
        first, last = local_bounds(region_zone(region), day, day)
        assert first == first_utc
        assert last - first == timedelta(hours=hours)


def test_utc_days_covering_local_days() -> None:
    assert utc_days(DUBLIN, date(2026, 7, 15), date(2026, 7, 16)) == (
        date(2026, 7, 14),
        date(2026, 7, 16),
    )
    assert utc_days(DUBLIN, date(2026, 11, 27), date(2026, 11, 27)) == (
        date(2026, 11, 27),
        date(2026, 11, 27),
    )


def test_local_span_and_stamp_text() -> None:
    summer = (datetime(2026, 7, 15, 2, 15, tzinfo=UTC), datetime(2026, 7, 15, 6, 15, tzinfo=UTC))
    assert local_span(*summer, DUBLIN) == "2026-07-15 03:15-07:15 IST (02:15-06:15 UTC)"
    assert local_span(*summer, ZoneInfo("Europe/London")) == (
        "2026-07-15 03:15-07:15 BST (02:15-06:15 UTC)"
    )
    winter = (datetime(2026, 11, 27, 2, 15, tzinfo=UTC), datetime(2026, 11, 27, 6, 15, tzinfo=UTC))
    assert local_span(*winter, DUBLIN) == "2026-11-27 02:15-06:15 GMT"
    to_midnight = (datetime(2026, 7, 15, 20, tzinfo=UTC), datetime(2026, 7, 15, 23, tzinfo=UTC))
    assert local_span(*to_midnight, DUBLIN) == "2026-07-15 21:00-00:00 IST (20:00-23:00 UTC)"
    assert local_stamp(summer[0], DUBLIN) == "2026-07-15 03:15 IST (02:15 UTC)"
    assert local_stamp(winter[0], DUBLIN) == "2026-11-27 02:15 GMT"


@pytest.mark.parametrize(
    ("day", "points", "first_utc"),
    [
        (date(2026, 7, 15), 24, datetime(2026, 7, 14, 23, tzinfo=UTC)),
        (date(2026, 3, 29), 23, datetime(2026, 3, 29, 0, tzinfo=UTC)),
        (date(2026, 10, 25), 25, datetime(2026, 10, 24, 23, tzinfo=UTC)),
    ],
)
async def test_grid_intensity_covers_the_local_day(
    day: date, points: int, first_utc: datetime
) -> None:
    source = FixedSource(flat)
    out = await grid_intensity(
        GridIntensityInput(region="ie", start_date=day.isoformat(), end_date=day.isoformat()),
        ctx_with(source, "2027-01-01T00:00:00+00:00"),
    )
    assert out.timezone == "Europe/Dublin"
    assert (out.start_date, out.end_date) == (day, day)
    assert out.raw_points == points
    assert out.points[0].ts == first_utc
    assert out.points[-1].ts == first_utc + timedelta(hours=points - 1)
    assert (out.range_start, out.range_end) == (first_utc, first_utc + timedelta(hours=points))
    # The source is asked for the UTC days that cover the local day.
    (called,) = source.calls
    assert called == ("ie", first_utc.date(), (first_utc + timedelta(hours=points - 1)).date())
    assert out.stats is not None
    assert out.stats.min_at_local == first_utc.astimezone(DUBLIN).isoformat()
    assert out.periods[0].start_local.startswith(f"{day.isoformat()}T00:00:00")
    assert out.periods[-1].end_local.startswith(f"{(day + timedelta(days=1)).isoformat()}T00:00:00")


async def test_daily_means_are_per_local_day() -> None:
    def local_day_number(ts: datetime) -> float:
        return float(ts.astimezone(DUBLIN).day)

    out = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-07-01", end_date="2026-07-31"),
        ctx_with(FixedSource(local_day_number), "2027-01-01T00:00:00+00:00"),
    )
    assert out.view == "daily"
    assert [p.value for p in out.points] == [float(d) for d in range(1, 32)]
    # Each day's point is stamped with the UTC instant of its local midnight.
    assert out.points[0].ts == datetime(2026, 6, 30, 23, tzinfo=UTC)


async def test_daily_means_across_the_autumn_change_are_25_hour_days() -> None:
    out = await grid_intensity(
        GridIntensityInput(region="ni", start_date="2026-10-10", end_date="2026-11-05"),
        ctx_with(FixedSource(flat), "2027-01-01T00:00:00+00:00"),
    )
    stamps = [p.ts for p in out.points]
    change = stamps.index(datetime(2026, 10, 24, 23, tzinfo=UTC))
    assert stamps[change + 1] - stamps[change] == timedelta(hours=25)
    assert stamps[1] - stamps[0] == timedelta(hours=24)
    assert len(stamps) == 27


def evening(ts: datetime) -> float:
    """UTC 16:00 (17:00 IST) is cleanest, UTC 17:00-19:00 (18:00-20:00 IST) next."""
    if ts.hour == 16:
        return 10.0
    if 17 <= ts.hour < 19:
        return 100.0
    return 300.0


async def test_best_window_honours_local_hour_limits_in_summer() -> None:
    out = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=2, date="2026-07-15", earliest_hour=18),
        ctx_with(FixedSource(evening), SUMMER_NOW),
    )
    # "after 6pm" is 18:00 IST = 17:00 UTC, so the 17:00-19:00 UTC slot is allowed and the
    # cleaner 16:00 UTC (17:00 IST) is not.
    assert out.window.start == datetime(2026, 7, 15, 17, tzinfo=UTC)
    assert out.window.end == datetime(2026, 7, 15, 19, tzinfo=UTC)
    assert out.window.start_local == "2026-07-15T18:00:00+01:00"
    assert out.window.end_local == "2026-07-15T20:00:00+01:00"
    assert out.timezone == "Europe/Dublin"
    assert out.now_local == "2026-07-14T07:00:00+01:00"
    assert out.summary().startswith(
        "Cleanest 2 h in Republic of Ireland: 2026-07-15 18:00-20:00 IST (17:00-19:00 UTC), "
    )
    early = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=1, date="2026-07-15", latest_hour=18),
        ctx_with(FixedSource(evening), SUMMER_NOW),
    )
    # Before 18:00 IST includes 16:00 UTC (17:00 IST).
    assert early.window.start == datetime(2026, 7, 15, 16, tzinfo=UTC)


async def test_best_window_in_winter_reads_as_gmt_only() -> None:
    out = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=2, date="2026-11-27", earliest_hour=18),
        ctx_with(FixedSource(evening), WINTER_NOW),
    )
    assert out.window.start == datetime(2026, 11, 27, 18, tzinfo=UTC)
    assert out.window.start_local == "2026-11-27T18:00:00+00:00"
    assert "2026-11-27 18:00-19:00" not in out.summary()
    assert "2026-11-27 18:00-20:00 GMT, mean" in out.summary()
    assert "UTC" not in out.summary()


async def test_best_window_today_and_day_mean_are_local() -> None:
    def by_local_day(ts: datetime) -> float:
        return 100.0 if ts.astimezone(DUBLIN).day == 16 else 500.0

    # 23:30 UTC on the 15th is 00:30 IST on the 16th: "today" is the 16th.
    out = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=1),
        ctx_with(FixedSource(by_local_day), "2026-07-15T23:30:00+00:00"),
    )
    assert (out.start_date, out.end_date) == (date(2026, 7, 16), date(2026, 7, 17))
    assert out.window.start_local.startswith("2026-07-16T")
    assert out.day_mean == 100.0  # the 16th's local day only (UTC days would mix in 500s)


async def test_best_window_without_dates_is_the_next_24_hours() -> None:
    """Late in the evening there is no 4 h window left today; with no date given the
    search runs over the next 24 hours, never before now and never past now + 24 h."""

    def cleanest_at_dawn(ts: datetime) -> float:
        return 50.0 if ts.astimezone(DUBLIN).hour in (3, 4, 5, 6) else 300.0

    now = datetime(2026, 11, 26, 21, 10, tzinfo=UTC)
    out = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=4),
        ctx_with(FixedSource(cleanest_at_dawn), now.isoformat()),
    )
    assert (out.start_date, out.end_date) == (date(2026, 11, 26), date(2026, 11, 27))
    assert out.window.start == datetime(2026, 11, 27, 3, tzinfo=UTC)
    assert out.window.mean == 50.0

    def cleanest_tomorrow_night(ts: datetime) -> float:
        return 10.0 if ts >= datetime(2026, 11, 27, 22, tzinfo=UTC) else 300.0

    out = await grid_best_window(
        BestWindowInput(region="ie", duration_hours=4),
        ctx_with(FixedSource(cleanest_tomorrow_night), "2026-11-26T06:00:00+00:00"),
    )
    assert out.window.end <= datetime(2026, 11, 27, 6, tzinfo=UTC)  # now + 24 h
    assert out.window.start >= datetime(2026, 11, 26, 6, tzinfo=UTC)


async def test_compare_ranges_are_local_days() -> None:
    source = FixedSource(flat)
    out = await grid_compare(
        GridCompareInput(
            region="ie",
            first_start_date="2026-03-29",
            first_end_date="2026-03-29",
            second_start_date="2026-10-25",
            second_end_date="2026-10-25",
        ),
        ctx_with(source, "2027-01-01T00:00:00+00:00"),
    )
    assert out.timezone == "Europe/Dublin"
    assert (out.first.points, out.second.points) == (23, 25)


async def test_synthetic_demand_follows_the_local_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """In winter (local = UTC) the profile is the UTC-shaped one; in summer it differs."""
    source = SyntheticGridSource()
    now = datetime(2027, 1, 1, tzinfo=UTC)
    local = {
        day: (await source.fetch("gb", day, day, now)).points
        for day in (date(2026, 1, 15), date(2026, 7, 15))
    }
    monkeypatch.setattr(synthetic, "region_zone", lambda region: ZoneInfo("UTC"))
    utc_shaped = {day: (await source.fetch("gb", day, day, now)).points for day in local}
    assert local[date(2026, 1, 15)] == utc_shaped[date(2026, 1, 15)]
    assert local[date(2026, 7, 15)] != utc_shaped[date(2026, 7, 15)]


async def test_month_summaries_are_local_months() -> None:
    def local_month(ts: datetime) -> float:
        return float(ts.astimezone(DUBLIN).month)

    out = await grid_intensity(
        GridIntensityInput(region="ie", start_date="2026-06-20", end_date="2026-08-10"),
        ctx_with(FixedSource(local_month), "2027-01-01T00:00:00+00:00"),
    )
    # With UTC months, 23:00 UTC on the last day of a month (00:00 IST) would leak over.
    assert [(m.month, m.mean, m.min, m.max) for m in out.months] == [
        ("2026-06", 6.0, 6.0, 6.0),
        ("2026-07", 7.0, 7.0, 7.0),
        ("2026-08", 8.0, 8.0, 8.0),
    ]


def test_catalog_tells_the_model_dates_and_hours_are_local() -> None:
    for name in ("grid_intensity", "grid_best_window", "grid_compare"):
        description = get_tool(name).description
        # Short (re-read on every call): the rule, not the zones (results name them).
        assert "LOCAL time" in description
        assert "*_local" in description
    best = get_tool("grid_best_window").description
    assert "after 6pm: earliest_hour=18" in best
    # The hours' range is in the schema (validated), not in the prose.
    hour = get_tool("grid_best_window").parameters["properties"]["earliest_hour"]
    assert (hour["minimum"], hour["maximum"]) == (0, 24)
