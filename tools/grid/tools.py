"""The grid tools the model calls: intensity views, the best window, and range comparison.

Forecast points are never averaged with actuals. Means, minima and maxima are over actual
points; forecasts get their own figures (``forecast_*``); a month or range with no actual
point at all is summarised from its forecasts and says so (``basis="forecast"``). The
low/medium/high thresholds are the exception by design: they rank every interval of the window
on one scale, so they are taken over actual and forecast points together and name that
``basis`` with a count of each (see :class:`tools.grid.analysis.Thresholds`).

Dates and hours in the inputs are the region's LOCAL time (Europe/Dublin for the island,
Europe/London for GB; see :mod:`tools.grid.zones`). Outputs keep every timestamp in UTC and
add its local time (``*_local``, ISO 8601 with offset) and the zone name (``timezone``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from tools.catalog_types import DataSource, ToolContext, ToolError
from tools.clock import now_from_context, parse_date
from tools.cpu import run_cpu_bound
from tools.grid.analysis import (
    Level,
    Period,
    SeriesStats,
    Thresholds,
    Trend,
    ViewKind,
    Window,
    best_window,
    classify,
    merge_periods,
    month_segments,
    point_thresholds,
    resample,
    series_stats,
    series_trend,
    view_for_span,
    window_starting_at,
)
from tools.grid.model import REGION_NAMES, GridSeries, IntensityPoint, Region, check_region
from tools.grid.service import fetch_range, source_from_context
from tools.grid.zones import (
    REGION_TIMEZONES,
    local_bounds,
    local_date,
    local_iso,
    local_span,
    region_zone,
)
from tools.numeric import mean, safe_pct

__all__ = [
    "BestWindowInput",
    "BestWindowResult",
    "GridCompareInput",
    "GridCompareResult",
    "GridIntensityInput",
    "GridIntensityResult",
    "MonthSummary",
    "RangeSummary",
    "grid_best_window",
    "grid_compare",
    "grid_intensity",
    "intensity_view",
]

_MODEL_POINT_LIMIT = 100
# Above this many points (~10 days at 15 min) the analysis takes several ms of pure Python:
# grid_intensity runs it on the tools' CPU thread so the caller's event loop keeps serving.
_INLINE_POINTS = 1000
_MODEL_PERIOD_LIMIT = 40


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


SummaryBasis = Literal["actual", "forecast"]


class _Split(NamedTuple):
    """A range's values summarised apart: the ``basis`` values (the actuals, or the forecasts
    when there is no actual) and the forecasts on their own."""

    basis: SummaryBasis
    values: list[float]  # the values mean/min/max are taken over
    actual_points: int
    forecast_points: int
    forecast_mean: float | None
    forecast_min: float | None
    forecast_max: float | None


def _split(points: Sequence[IntensityPoint]) -> _Split:
    actual = [p.value for p in points if not p.forecast]
    forecast = [p.value for p in points if p.forecast]
    return _Split(
        basis="actual" if actual or not forecast else "forecast",
        values=actual or forecast,
        actual_points=len(actual),
        forecast_points=len(forecast),
        forecast_mean=round(mean(forecast), 2) if forecast else None,
        forecast_min=min(forecast) if forecast else None,
        forecast_max=max(forecast) if forecast else None,
    )


# ------------------------------------------------------------------------ grid_intensity


class GridIntensityInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    region: Region
    start_date: str
    end_date: str


class MonthSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One calendar month of a long range, from the raw points.

    ``mean``/``min``/``max``/``low_share_pct`` cover the month's ACTUAL points; only a month
    with no actual point (all in the future) is summarised from its forecasts, and then
    ``basis`` is "forecast". Forecast points of a month that has actuals are left out of
    those figures and summarised in ``forecast_mean``/``forecast_min``/``forecast_max``.
    """

    month: str  # YYYY-MM
    start_date: date
    end_date: date
    mean: float
    min: float
    max: float
    low_share_pct: float  # share of the basis points classified low (the range's thresholds)
    basis: SummaryBasis  # which points mean/min/max/low_share_pct cover
    actual_points: int
    forecast_points: int
    forecast_mean: float | None  # the month's forecast points alone; None without any
    forecast_min: float | None
    forecast_max: float | None


class BucketMean(msgspec.Struct, frozen=True, kw_only=True):
    """The mean of one local day, ISO week or hour of day, so that "which day was greenest"
    is ranked on figures the tool computed. ``mean`` covers the bucket's ACTUAL points; a
    bucket with no actual point is summarised from its forecasts and ``basis`` says so."""

    key: str  # YYYY-MM-DD (day), YYYY-Www (ISO week) or HH (local hour of day, 00-23)
    start_date: date | None  # the bucket's first local day (None for an hour of day)
    end_date: date | None
    mean: float
    min: float
    max: float
    basis: SummaryBasis
    actual_points: int
    forecast_points: int


class GridIntensityResult(msgspec.Struct, frozen=True, kw_only=True):
    region: str
    region_name: str
    start_date: date  # local days of ``timezone``
    end_date: date
    timezone: str  # IANA zone of the region, e.g. Europe/Dublin
    range_start: datetime  # UTC instant of local start_date 00:00
    range_end: datetime  # UTC instant of the local midnight after end_date (exclusive)
    unit: str = "gCO2/kWh"
    view: ViewKind
    view_step_minutes: int
    raw_step_minutes: int
    raw_points: int
    points: tuple[IntensityPoint, ...]  # the view's actual (measured) points
    forecast_points: tuple[IntensityPoint, ...]  # the view's forecast points, kept apart
    thresholds: Thresholds  # over all the view's points; basis + counts say which kinds
    periods: tuple[Period, ...]  # each actual-only or forecast-only (``forecast`` flag)
    level_counts: dict[str, int]  # actual points per level
    forecast_level_counts: dict[str, int]  # forecast points per level, kept apart
    stats: SeriesStats | None  # actual points only
    forecast_stats: SeriesStats | None  # forecast points only
    trend: Trend | None  # actual points only
    months: tuple[MonthSummary, ...]
    days: tuple[BucketMean, ...] = ()  # one per local day of the range
    weeks: tuple[BucketMean, ...] = ()  # one per ISO week the range touches (ranges > 7 days)
    hours_of_day: tuple[BucketMean, ...] = ()  # mean per local hour of day over the range
    synthetic: bool
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        tag = " (SYNTHETIC data)" if self.synthetic else ""
        main = self.stats or self.forecast_stats
        if main is None:
            return f"No grid data for {self.region} {self.start_date}..{self.end_date}{tag}"
        kind = "actual" if self.stats else "forecast"
        trend = f", trend {self.trend.direction}" if self.trend else ""
        rest = ""
        if self.stats and self.forecast_stats:
            rest = f"; forecast mean {self.forecast_stats.mean:.0f} (not in the actual figures)"
        return (
            f"Grid intensity {self.region_name} {self.start_date}..{self.end_date} "
            f"({self.timezone} days){tag}: "
            f"{kind} mean {main.mean:.0f} gCO2/kWh (min {main.min:.0f}, max {main.max:.0f})"
            f"{trend}{rest}; low ≤ {self.thresholds.p33:.0f}, high > {self.thresholds.p66:.0f}"
            f" ({self.thresholds.basis} points)"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources

    def for_model(self) -> dict[str, Any]:
        """Everything but long point lists (periods capped) so the prompt stays small."""
        payload: dict[str, Any] = msgspec.to_builtins(self)
        payload["point_format"] = ["ts", "gCO2/kWh", "forecast"]
        if self.start_date == self.end_date:
            del payload["hours_of_day"]  # one day: the points themselves say it
        for key in ("points", "forecast_points"):
            values = payload[key]
            if len(values) > _MODEL_POINT_LIMIT:
                payload[key] = f"{len(values)} points omitted (see stats, periods and months)"
        periods = payload["periods"]
        if len(periods) > _MODEL_PERIOD_LIMIT:
            payload["periods"] = periods[:_MODEL_PERIOD_LIMIT]
            payload["periods_truncated"] = len(periods) - _MODEL_PERIOD_LIMIT
        if self.forecast_points:
            payload["forecast_note"] = _FORECAST_NOTE
        return payload


_FORECAST_NOTE = (
    "Forecasts are kept apart: points, stats, level_counts, trend and each month's "
    "mean/min/max/low_share_pct cover ACTUAL points only (a month with basis='forecast' has "
    "no actual and is summarised from its forecasts); forecast_points, forecast_stats, "
    "forecast_level_counts and months' forecast_* cover forecasts only; periods carry a "
    "forecast flag. thresholds rank actual and forecast points on one scale (thresholds.basis)."
)


def _bucket_means(
    points: Sequence[IntensityPoint], key_of: Any, bounds: Any = None
) -> tuple[BucketMean, ...]:
    """Points grouped by ``key_of(point)`` (sorted keys), each group summarised apart from its
    forecasts like a month; ``bounds(key)`` gives a group's first and last local day."""
    groups: dict[str, list[IntensityPoint]] = {}
    for point in points:
        groups.setdefault(key_of(point), []).append(point)
    out: list[BucketMean] = []
    for key in sorted(groups):
        part = _split(groups[key])
        first, last = bounds(key) if bounds is not None else (None, None)
        out.append(
            BucketMean(
                key=key,
                start_date=first,
                end_date=last,
                mean=round(mean(part.values), 2),
                min=min(part.values),
                max=max(part.values),
                basis=part.basis,
                actual_points=part.actual_points,
                forecast_points=part.forecast_points,
            )
        )
    return tuple(out)


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _week_bounds(start: date, end: date) -> Any:
    def bounds(key: str) -> tuple[date, date]:
        year, week = int(key[:4]), int(key[6:])
        monday = date.fromisocalendar(year, week, 1)
        return max(monday, start), min(monday + timedelta(days=6), end)

    return bounds


def intensity_view(series: GridSeries) -> GridIntensityResult:
    """Apply the span rules, classification, period merging and stats to a fetched series."""
    zone = region_zone(series.region)
    span = (series.end - series.start).days + 1
    view = view_for_span(span)
    if view == "raw":
        view_points = list(series.points)
        view_step = series.step_minutes
    elif view == "hourly":
        view_points = resample(series.points, "hour", zone)  # per local hour
        view_step = 60
    else:
        view_points = resample(series.points, "day", zone)  # per local day
        view_step = 1440
    cuts = point_thresholds(view_points)  # one scale for the whole window, basis named
    actual = tuple(p for p in view_points if not p.forecast)
    forecast = tuple(p for p in view_points if p.forecast)
    periods = merge_periods(actual, cuts, timedelta(minutes=view_step), zone) + merge_periods(
        forecast, cuts, timedelta(minutes=view_step), zone
    )
    periods.sort(key=lambda p: (p.start, p.forecast))
    counts = {"low": 0, "medium": 0, "high": 0}
    forecast_counts = {"low": 0, "medium": 0, "high": 0}
    for point in view_points:
        (forecast_counts if point.forecast else counts)[classify(point.value, cuts)] += 1
    months: list[MonthSummary] = []
    if span > 31:
        for seg_start, seg_end in month_segments(series.start, series.end):
            seg = [p for p in series.points if seg_start <= local_date(p.ts, zone) <= seg_end]
            if not seg:
                continue
            part = _split(seg)
            values = part.values
            lows = sum(1 for v in values if classify(v, cuts) == "low")
            months.append(
                MonthSummary(
                    month=seg_start.strftime("%Y-%m"),
                    start_date=seg_start,
                    end_date=seg_end,
                    mean=round(mean(values), 2),
                    min=min(values),
                    max=max(values),
                    low_share_pct=round(lows / len(values) * 100.0, 1),
                    basis=part.basis,
                    actual_points=part.actual_points,
                    forecast_points=part.forecast_points,
                    forecast_mean=part.forecast_mean,
                    forecast_min=part.forecast_min,
                    forecast_max=part.forecast_max,
                )
            )
    range_start, range_end = local_bounds(zone, series.start, series.end)
    days = _bucket_means(
        series.points,
        lambda p: local_date(p.ts, zone).isoformat(),
        lambda key: (date.fromisoformat(key), date.fromisoformat(key)),
    )
    weeks = (
        _bucket_means(
            series.points,
            lambda p: _iso_week(local_date(p.ts, zone)),
            _week_bounds(series.start, series.end),
        )
        if span > 7
        else ()
    )
    hours = _bucket_means(series.points, lambda p: f"{p.ts.astimezone(zone).hour:02d}")
    return GridIntensityResult(
        region=series.region,
        region_name=REGION_NAMES[series.region],
        start_date=series.start,
        end_date=series.end,
        timezone=REGION_TIMEZONES[series.region],
        range_start=range_start,
        range_end=range_end,
        view=view,
        view_step_minutes=view_step,
        raw_step_minutes=series.step_minutes,
        raw_points=len(series.points),
        points=actual,
        forecast_points=forecast,
        thresholds=cuts,
        periods=tuple(periods),
        level_counts=counts,
        forecast_level_counts=forecast_counts,
        stats=series_stats(actual, zone),
        forecast_stats=series_stats(forecast, zone),
        trend=series_trend(actual),
        months=tuple(months),
        days=days,
        weeks=weeks,
        hours_of_day=hours,
        synthetic=series.source.synthetic,
        sources=(series.source,),
    )


async def grid_intensity(args: GridIntensityInput, ctx: ToolContext) -> GridIntensityResult:
    region = check_region(args.region)
    start = parse_date(args.start_date, "start_date")
    end = parse_date(args.end_date, "end_date")
    series = await fetch_range(source_from_context(ctx), region, start, end, now_from_context(ctx))
    if len(series.points) <= _INLINE_POINTS:
        return intensity_view(series)
    return await run_cpu_bound(intensity_view, series)  # weeks to a year: off the loop


# ------------------------------------------------------------------------ grid_best_window


class BestWindowInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    region: Region
    duration_hours: Annotated[float, msgspec.Meta(gt=0, le=168)]
    date: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    earliest_hour: Annotated[int, msgspec.Meta(ge=0, le=24)] | None = None
    latest_hour: Annotated[int, msgspec.Meta(ge=0, le=24)] | None = None
    energy_kwh: Annotated[float, msgspec.Meta(ge=0, lt=1e9)] | None = None


class BestWindowResult(msgspec.Struct, frozen=True, kw_only=True):
    region: str
    region_name: str
    start_date: date  # local days of ``timezone``
    end_date: date
    timezone: str  # IANA zone of the region; earliest/latest hours were local hours of it
    unit: str = "gCO2/kWh"
    duration_hours: float
    window: Window
    level: Level
    thresholds: Thresholds
    now: datetime
    now_local: str
    now_window: Window | None  # running immediately instead, when the data covers it
    saving_vs_now: float | None
    saving_vs_now_pct: float | None
    day_mean: float  # the window's whole local day, its forecast hours included (see below)
    day_points: int
    day_forecast_points: int  # how many of day_mean's points are forecasts
    saving_vs_day_mean: float
    saving_vs_day_mean_pct: float | None
    energy_kwh: float | None
    saving_vs_now_kg: float | None
    saving_vs_day_mean_kg: float | None
    uses_forecast: bool
    synthetic: bool
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        tag = " (SYNTHETIC data)" if self.synthetic else ""
        when = local_span(self.window.start, self.window.end, ZoneInfo(self.timezone))
        vs_now = (
            f", {self.saving_vs_now_pct:.0f}% below running now"
            if self.saving_vs_now_pct is not None
            else ""
        )
        return (
            f"Cleanest {self.duration_hours:g} h in {self.region_name}{tag}: {when}, mean "
            f"{self.window.mean:.0f} gCO2/kWh ({self.level}){vs_now}"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources


def _hour_filter(
    points: Sequence[IntensityPoint], earliest: int | None, latest: int | None, zone: tzinfo
) -> list[IntensityPoint]:
    """Points whose interval starts in local hours ``earliest`` <= hour < ``latest``."""
    low = 0 if earliest is None else earliest
    high = 24 if latest is None else latest
    if not (0 <= low < high <= 24):
        raise ToolError(
            "earliest_hour/latest_hour must satisfy 0 <= earliest < latest <= 24 (local hours)"
        )
    if low == 0 and high == 24:
        return list(points)
    return [p for p in points if low <= p.ts.astimezone(zone).hour < high]


async def grid_best_window(args: BestWindowInput, ctx: ToolContext) -> BestWindowResult:
    region = check_region(args.region)
    zone = region_zone(region)
    now = now_from_context(ctx)
    horizon: datetime | None = None  # with no dates given: the next 24 hours
    if args.date is not None:
        start = end = parse_date(args.date, "date")
    elif args.start_date is not None or args.end_date is not None:
        start = parse_date(args.start_date or args.end_date or "", "start_date")
        end = parse_date(args.end_date or args.start_date or "", "end_date")
    else:
        start = local_date(now, zone)
        end = start + timedelta(days=1)
        horizon = now + max(timedelta(hours=24), timedelta(hours=args.duration_hours))
    if not 0 < args.duration_hours <= 24 * 7:
        raise ToolError("duration_hours must be between 0 and 168")
    if args.energy_kwh is not None and not 0 <= args.energy_kwh < 1e9:
        raise ToolError("energy_kwh must be a non-negative number of kWh")
    series = await fetch_range(source_from_context(ctx), region, start, end, now)
    step = timedelta(minutes=series.step_minutes)
    steps = max(1, round(timedelta(hours=args.duration_hours) / step))
    duration = step * steps
    candidates = _hour_filter(series.points, args.earliest_hour, args.latest_hour, zone)
    # A load cannot run in the past: when the range reaches now, only windows from the
    # current interval onward count.
    candidates = [p for p in candidates if p.ts + step > now]
    if horizon is not None:  # the whole window inside the next 24 hours
        candidates = [p for p in candidates if p.ts + step <= horizon]
    if not candidates and series.points[-1].ts + step <= now:
        candidates = _hour_filter(series.points, args.earliest_hour, args.latest_hour, zone)
    window = best_window(candidates, duration, step, zone)
    if window is None:
        raise ToolError(
            f"no contiguous {duration.total_seconds() / 3600:g} h window with data in "
            f"{start}..{end} within the requested hours (from now on)"
        )
    cuts = point_thresholds(series.points)  # as grid_intensity's raw view of the range
    now_window = window_starting_at(series.points, now, duration, step, zone)
    window_day = local_date(window.start, zone)  # the mean of the window's LOCAL day
    day = [p for p in series.points if local_date(p.ts, zone) == window_day]
    day_values = [p.value for p in day]  # the whole day, so today's rest is its forecast
    day_mean = round(mean(day_values), 2)
    saving_now = None if now_window is None else round(now_window.mean - window.mean, 2)
    saving_day = round(day_mean - window.mean, 2)
    pct_now = None
    if now_window is not None and saving_now is not None:
        pct_now = safe_pct(saving_now, now_window.mean)
    kwh = args.energy_kwh

    def kg(saving: float | None) -> float | None:
        # g/kWh x kWh → g; / 1000 → kg.
        return None if saving is None or kwh is None else round(saving * kwh / 1000.0, 3)

    return BestWindowResult(
        region=region,
        region_name=REGION_NAMES[region],
        start_date=start,
        end_date=end,
        timezone=REGION_TIMEZONES[region],
        duration_hours=duration.total_seconds() / 3600.0,
        window=window,
        level=classify(window.mean, cuts),
        thresholds=cuts,
        now=now.astimezone(UTC),
        now_local=local_iso(now, zone),
        now_window=now_window,
        saving_vs_now=saving_now,
        saving_vs_now_pct=_r(pct_now),
        day_mean=day_mean,
        day_points=len(day),
        day_forecast_points=sum(1 for p in day if p.forecast),
        saving_vs_day_mean=saving_day,
        saving_vs_day_mean_pct=_r(safe_pct(saving_day, day_mean)),
        energy_kwh=kwh,
        saving_vs_now_kg=kg(saving_now),
        saving_vs_day_mean_kg=kg(saving_day),
        uses_forecast=window.forecast,
        synthetic=series.source.synthetic,
        sources=(series.source,),
    )


# ------------------------------------------------------------------------ grid_compare


class GridCompareInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    region: Region
    first_start_date: str
    first_end_date: str
    second_start_date: str
    second_end_date: str


class RangeSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One compared range. ``mean``/``min``/``max`` cover its ACTUAL points; only a range with
    no actual point (all in the future) is summarised from its forecasts, ``basis`` then
    being "forecast". Forecasts of a range that has actuals are left out of those figures and
    summarised in ``forecast_mean``/``forecast_min``/``forecast_max``."""

    start_date: date
    end_date: date
    mean: float
    min: float
    max: float
    points: int  # all points of the range, actual and forecast
    forecast_points: int  # how many of the points are forecasts, not measurements
    basis: SummaryBasis  # which points mean/min/max cover
    actual_points: int
    forecast_mean: float | None  # the range's forecast points alone; None without any
    forecast_min: float | None
    forecast_max: float | None


class GridCompareResult(msgspec.Struct, frozen=True, kw_only=True):
    region: str
    region_name: str
    timezone: str  # the ranges are local days of this IANA zone
    unit: str = "gCO2/kWh"
    first: RangeSummary
    second: RangeSummary
    difference: float  # second mean - first mean (each of its range's ``basis`` points)
    pct_change: float | None
    uses_forecast: bool  # True when either mean is of forecasts (a range with no actual)
    synthetic: bool
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        tag = " (SYNTHETIC data)" if self.synthetic else ""
        pct = "n/a" if self.pct_change is None else f"{self.pct_change:+.1f}%"
        a, b = self.first, self.second
        return (
            f"Grid {self.region_name}{tag}: {a.start_date}..{a.end_date} {a.basis} mean "
            f"{a.mean:.0f} vs {b.start_date}..{b.end_date} {b.basis} mean "
            f"{b.mean:.0f} gCO2/kWh ({pct}){_excluded(a, 'first')}{_excluded(b, 'second')}"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources


def _excluded(summary: RangeSummary, which: str) -> str:
    if summary.basis == "forecast" or summary.forecast_mean is None:
        return ""
    return (
        f"; {summary.forecast_points} forecast points of the {which} range not in its mean "
        f"(forecast mean {summary.forecast_mean:.0f})"
    )


def _range_summary(series: GridSeries) -> RangeSummary:
    part = _split(series.points)
    return RangeSummary(
        start_date=series.start,
        end_date=series.end,
        mean=round(mean(part.values), 2),
        min=min(part.values),
        max=max(part.values),
        points=len(series.points),
        forecast_points=part.forecast_points,
        basis=part.basis,
        actual_points=part.actual_points,
        forecast_mean=part.forecast_mean,
        forecast_min=part.forecast_min,
        forecast_max=part.forecast_max,
    )


async def grid_compare(args: GridCompareInput, ctx: ToolContext) -> GridCompareResult:
    region = check_region(args.region)
    now = now_from_context(ctx)
    source = source_from_context(ctx)
    first, second = await asyncio.gather(
        fetch_range(
            source,
            region,
            parse_date(args.first_start_date, "first_start_date"),
            parse_date(args.first_end_date, "first_end_date"),
            now,
        ),
        fetch_range(
            source,
            region,
            parse_date(args.second_start_date, "second_start_date"),
            parse_date(args.second_end_date, "second_end_date"),
            now,
        ),
    )
    a, b = _range_summary(first), _range_summary(second)
    diff = round(b.mean - a.mean, 2)
    sources = (first.source,) if first.source == second.source else (first.source, second.source)
    return GridCompareResult(
        region=region,
        region_name=REGION_NAMES[region],
        timezone=REGION_TIMEZONES[region],
        first=a,
        second=b,
        difference=diff,
        pct_change=_r(safe_pct(diff, a.mean)),
        uses_forecast="forecast" in (a.basis, b.basis),
        synthetic=first.source.synthetic or second.source.synthetic,
        sources=sources,
    )
