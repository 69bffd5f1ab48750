"""Pure analysis of intensity points: span views, percentile levels, periods, windows, stats.

Rules kept from the predecessor: up to 6 days → raw points, 7-21 days → hourly means,
22+ days → daily means; ranges longer than one month are also split into calendar months;
points are classified low/medium/high against the window's 33rd/66th percentiles.

Timestamps are UTC instants; functions that take a ``zone`` also give each result its local
time (ISO 8601 with offset, ``*_local``) and bucket days by the zone's local calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

import msgspec

from tools.grid.model import IntensityPoint
from tools.numeric import linear_fit, mean, percentile

__all__ = [
    "Level",
    "Period",
    "SeriesStats",
    "ThresholdBasis",
    "Thresholds",
    "Trend",
    "ViewKind",
    "Window",
    "best_window",
    "classify",
    "merge_periods",
    "month_segments",
    "point_thresholds",
    "resample",
    "series_stats",
    "series_trend",
    "thresholds",
    "view_for_span",
    "window_starting_at",
]

Level = Literal["low", "medium", "high"]
ViewKind = Literal["raw", "hourly", "daily"]
ThresholdBasis = Literal["actual", "forecast", "actual+forecast"]


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    """The percentile cut points used to classify a window (gCO2/kWh).

    ``basis`` says which points they were taken over, never left implicit: a window reaching
    into the future (e.g. today) is cut over its ``actual_points`` and ``forecast_points``
    together ("actual+forecast"), so every interval of the window is ranked on one scale.
    Ranking the rest of a day against only its first hours of actuals would call most of
    it "high" (or "low") whatever it holds.
    """

    p33: float
    p66: float
    basis: ThresholdBasis = "actual"
    actual_points: int = 0
    forecast_points: int = 0


class Period(msgspec.Struct, frozen=True, kw_only=True):
    """Consecutive points at the same level (and same actual/forecast status).

    ``start``/``end`` are UTC; ``start_local``/``end_local`` the same instants in local time.
    """

    start: datetime
    end: datetime
    start_local: str
    end_local: str
    level: Level
    mean: float
    points: int
    forecast: bool


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """``start``/``end`` are UTC; ``start_local``/``end_local`` the same instants, local."""

    start: datetime
    end: datetime
    start_local: str
    end_local: str
    mean: float
    points: int
    forecast: bool  # True when any point in the window is a forecast


class SeriesStats(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    min: float
    min_at: datetime
    min_at_local: str
    max: float
    max_at: datetime
    max_at_local: str
    mean: float


class Trend(msgspec.Struct, frozen=True, kw_only=True):
    """Least-squares slope in gCO2/kWh per day over the series, with its R²."""

    slope_per_day: float
    r_squared: float
    direction: Literal["rising", "falling", "flat"]


def view_for_span(span_days: int) -> ViewKind:
    """The predecessor's rule: ≤6 days raw, 7-21 days hourly means, 22+ days daily means."""
    if span_days <= 6:
        return "raw"
    if span_days <= 21:
        return "hourly"
    return "daily"


def month_segments(start: date, end: date) -> list[tuple[date, date]]:
    """Calendar months covering ``start..end`` (inclusive), the first and last ones clipped."""
    segments: list[tuple[date, date]] = []
    cursor = start
    while cursor <= end:
        if cursor.month == 12:
            next_month = date(cursor.year + 1, 1, 1)
        else:
            next_month = date(cursor.year, cursor.month + 1, 1)
        segment_end = min(end, next_month - timedelta(days=1))
        segments.append((cursor, segment_end))
        cursor = next_month
    return segments


def resample(
    points: Sequence[IntensityPoint], bucket: Literal["hour", "day"], zone: tzinfo = UTC
) -> list[IntensityPoint]:
    """Means per local hour or local day of ``zone``, each stamped with the UTC instant it
    starts (a zone with a half-hour offset has hours starting at :30 UTC; the repeated hour
    of an autumn DST change stays two hours). Actuals and forecasts are averaged separately."""
    sums: dict[tuple[datetime, bool], list[float]] = {}
    for point in points:
        local = point.ts.astimezone(zone)
        if bucket == "hour":
            start = local.replace(minute=0, second=0, microsecond=0)
        else:
            start = datetime(local.year, local.month, local.day, tzinfo=zone)
        key_ts = start.astimezone(UTC)
        acc = sums.setdefault((key_ts, point.forecast), [0.0, 0.0])
        acc[0] += point.value
        acc[1] += 1.0
    return [
        IntensityPoint(ts, round(total / count, 2), forecast)
        for (ts, forecast), (total, count) in sorted(sums.items())
    ]


def thresholds(values: Sequence[float], forecast_values: Sequence[float] = ()) -> Thresholds:
    """33rd and 66th percentiles (linear interpolation) of the window's actual ``values`` and
    ``forecast_values`` taken together; the result counts each and names its basis."""
    ordered = sorted([*values, *forecast_values])
    basis: ThresholdBasis = "actual+forecast" if values and forecast_values else "actual"
    if forecast_values and not values:
        basis = "forecast"
    return Thresholds(
        p33=round(percentile(ordered, 33.0), 2),
        p66=round(percentile(ordered, 66.0), 2),
        basis=basis,
        actual_points=len(values),
        forecast_points=len(forecast_values),
    )


def point_thresholds(points: Sequence[IntensityPoint]) -> Thresholds:
    """:func:`thresholds` of a window's points, its actuals and forecasts counted apart."""
    return thresholds(
        [p.value for p in points if not p.forecast], [p.value for p in points if p.forecast]
    )


def classify(value: float, cuts: Thresholds) -> Level:
    """low ≤ p33 < medium ≤ p66 < high — monotonic in ``value``."""
    if value <= cuts.p33:
        return "low"
    if value <= cuts.p66:
        return "medium"
    return "high"


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat()


def merge_periods(
    points: Sequence[IntensityPoint], cuts: Thresholds, step: timedelta, zone: tzinfo = UTC
) -> list[Period]:
    """Merge runs of consecutive same-level points; a gap, a level change or a switch between
    actual and forecast starts a new period. ``end`` is the end of the last interval."""
    periods: list[Period] = []
    run: list[IntensityPoint] = []
    run_level: Level | None = None

    def flush() -> None:
        if run and run_level is not None:
            periods.append(
                Period(
                    start=run[0].ts,
                    end=run[-1].ts + step,
                    start_local=_local(run[0].ts, zone),
                    end_local=_local(run[-1].ts + step, zone),
                    level=run_level,
                    mean=round(mean([p.value for p in run]), 2),
                    points=len(run),
                    forecast=run[0].forecast,
                )
            )

    for point in points:
        level = classify(point.value, cuts)
        contiguous = bool(run) and point.ts - run[-1].ts == step
        if run and (level != run_level or point.forecast != run[0].forecast or not contiguous):
            flush()
            run = []
        run.append(point)
        run_level = level
    flush()
    return periods


def best_window(
    points: Sequence[IntensityPoint], duration: timedelta, step: timedelta, zone: tzinfo = UTC
) -> Window | None:
    """The contiguous window of ``duration`` with the lowest mean (earliest on ties).

    Windows never bridge a gap in the data. O(n) with a running sum.
    """
    size = int(duration / step)
    if size < 1 or len(points) < size:
        return None
    best: Window | None = None
    best_sum = 0.0
    running = 0.0
    run_start = 0  # index where the current gap-free stretch begins
    forecasts = 0
    for index, point in enumerate(points):
        if index > 0 and point.ts - points[index - 1].ts != step:
            run_start, running, forecasts = index, 0.0, 0
        running += point.value
        forecasts += point.forecast
        if index - run_start >= size:
            leaving = points[index - size]
            running -= leaving.value
            forecasts -= leaving.forecast
        if index - run_start + 1 >= size and (best is None or running < best_sum - 1e-9):
            first = points[index - size + 1]
            best_sum = running
            best = Window(
                start=first.ts,
                end=point.ts + step,
                start_local="",
                end_local="",
                mean=0.0,
                points=size,
                forecast=forecasts > 0,
            )
    if best is None:
        return None
    # Recompute the mean exactly from the chosen points (the running sum accumulates error).
    chosen = [p.value for p in points if best.start <= p.ts < best.end]
    return msgspec.structs.replace(
        best,
        mean=round(mean(chosen), 2),
        start_local=_local(best.start, zone),
        end_local=_local(best.end, zone),
    )


def window_starting_at(
    points: Sequence[IntensityPoint],
    at: datetime,
    duration: timedelta,
    step: timedelta,
    zone: tzinfo = UTC,
) -> Window | None:
    """The window of ``duration`` starting with the interval that contains ``at`` (e.g. now),
    or None when the data does not cover it contiguously."""
    size = int(duration / step)
    for index, point in enumerate(points):
        if point.ts <= at < point.ts + step:
            chosen = points[index : index + size]
            if len(chosen) < size or chosen[-1].ts - chosen[0].ts != step * (size - 1):
                return None
            return Window(
                start=chosen[0].ts,
                end=chosen[-1].ts + step,
                start_local=_local(chosen[0].ts, zone),
                end_local=_local(chosen[-1].ts + step, zone),
                mean=round(mean([p.value for p in chosen]), 2),
                points=size,
                forecast=any(p.forecast for p in chosen),
            )
    return None


def series_stats(points: Sequence[IntensityPoint], zone: tzinfo = UTC) -> SeriesStats | None:
    if not points:
        return None
    low = min(points, key=lambda p: p.value)
    high = max(points, key=lambda p: p.value)
    return SeriesStats(
        count=len(points),
        min=low.value,
        min_at=low.ts,
        min_at_local=_local(low.ts, zone),
        max=high.value,
        max_at=high.ts,
        max_at_local=_local(high.ts, zone),
        mean=round(mean([p.value for p in points]), 2),
    )


def series_trend(points: Sequence[IntensityPoint]) -> Trend | None:
    """Linear trend per day. "flat" when the fitted change over the span is under 5% of the mean."""
    if len(points) < 2:
        return None
    origin = points[0].ts
    xs = [(p.ts - origin).total_seconds() / 86400.0 for p in points]
    ys = [p.value for p in points]
    fit = linear_fit(xs, ys)
    change = fit.slope * (xs[-1] - xs[0])
    average = mean(ys)
    direction: Literal["rising", "falling", "flat"]
    if average == 0.0 or abs(change) < 0.05 * abs(average):
        direction = "flat"
    else:
        direction = "rising" if change > 0 else "falling"
    return Trend(
        slope_per_day=round(fit.slope, 3), r_squared=round(fit.r_squared, 4), direction=direction
    )
