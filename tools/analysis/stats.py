"""Table and series statistics: descriptive stats, month-over-month and year-over-year change,
linear trend, anomalies (robust z-score and IQR fences), Pareto contributors, intensity ratios.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

import msgspec

from tools.catalog_types import ToolError
from tools.numeric import linear_fit, mean, percentile, safe_pct

__all__ = [
    "Anomaly",
    "Contributor",
    "Descriptive",
    "MonthValue",
    "Observation",
    "TrendFit",
    "anomalies",
    "describe",
    "month_key",
    "monthly",
    "pareto",
    "trend",
]


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """One value with an optional month (YYYY-MM) and label (e.g. site, category)."""

    value: float
    month: str | None = None
    label: str | None = None


class Descriptive(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    total: float
    mean: float
    median: float
    std: float  # sample standard deviation (0 for a single value)
    min: float
    max: float
    p25: float
    p75: float


class MonthValue(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    value: float
    mom_pct: float | None  # change versus the previous calendar month, when present
    yoy_pct: float | None  # change versus the same month a year earlier, when present


class TrendFit(msgspec.Struct, frozen=True, kw_only=True):
    slope: float  # change per step (per month for monthly data, per row otherwise)
    per: Literal["month", "row"]
    intercept: float
    r_squared: float
    direction: Literal["rising", "falling", "flat"]


class Anomaly(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # the month or row label
    value: float
    robust_z: float | None  # 0.6745*(x - median)/MAD; None when MAD is 0
    methods: tuple[str, ...]  # "robust_z" (|z| > 3.5) and/or "iqr" (outside 1.5*IQR fences)


class Contributor(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    value: float
    share_pct: float
    cumulative_pct: float


def month_key(text: str, where: str) -> str:
    """YYYY-MM from a date, a month or an ISO timestamp."""
    raw = text.strip()
    try:
        if len(raw) == 7:
            date.fromisoformat(raw + "-01")
            return raw
        if len(raw) == 10:
            return date.fromisoformat(raw).isoformat()[:7]
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date().isoformat()[:7]
    except ValueError as exc:
        raise ToolError(f"{where}: {text!r} is not a date (YYYY-MM-DD or YYYY-MM)") from exc


def describe(values: Sequence[float]) -> Descriptive:
    if not values:
        raise ToolError("no values to analyse")
    ordered = sorted(values)
    return Descriptive(
        count=len(values),
        total=round(math.fsum(values), 4),
        mean=round(mean(values), 4),
        median=round(statistics.median(ordered), 4),
        std=round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        min=ordered[0],
        max=ordered[-1],
        p25=round(percentile(ordered, 25.0), 4),
        p75=round(percentile(ordered, 75.0), 4),
    )


def _previous_month(month: str, back: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + (number - 1) - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def monthly(observations: Sequence[Observation]) -> list[MonthValue]:
    """Sum per calendar month, with MoM and YoY percentage changes."""
    sums: dict[str, float] = {}
    for obs in observations:
        if obs.month is not None:
            sums[obs.month] = sums.get(obs.month, 0.0) + obs.value
    out: list[MonthValue] = []
    for month in sorted(sums):
        value = sums[month]
        prev, last_year = sums.get(_previous_month(month, 1)), sums.get(_previous_month(month, 12))
        mom = None if prev is None else safe_pct(value - prev, prev)
        yoy = None if last_year is None else safe_pct(value - last_year, last_year)
        out.append(
            MonthValue(
                month=month,
                value=round(value, 4),
                mom_pct=None if mom is None else round(mom, 2),
                yoy_pct=None if yoy is None else round(yoy, 2),
            )
        )
    return out


def trend(values: Sequence[float], per: Literal["month", "row"]) -> TrendFit | None:
    """Least squares over equally spaced steps; "flat" when the fitted change is < 5% of mean."""
    if len(values) < 2:
        return None
    xs = [float(i) for i in range(len(values))]
    fit = linear_fit(xs, values)
    change = fit.slope * (len(values) - 1)
    average = mean(values)
    direction: Literal["rising", "falling", "flat"] = "flat"
    if average != 0.0 and abs(change) >= 0.05 * abs(average):
        direction = "rising" if change > 0 else "falling"
    return TrendFit(
        slope=round(fit.slope, 4),
        per=per,
        intercept=round(fit.intercept, 4),
        r_squared=round(fit.r_squared, 4),
        direction=direction,
    )


def anomalies(keys: Sequence[str], values: Sequence[float]) -> list[Anomaly]:
    """Points flagged by the modified z-score (Iglewicz-Hoaglin, |z| > 3.5) or the IQR fences."""
    if len(values) < 4:
        return []
    ordered = sorted(values)
    median = statistics.median(ordered)
    mad = statistics.median(sorted(abs(v - median) for v in values))
    q1, q3 = percentile(ordered, 25.0), percentile(ordered, 75.0)
    low_fence, high_fence = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    found: list[Anomaly] = []
    for key, value in zip(keys, values, strict=True):
        z = None if mad == 0.0 else 0.6745 * (value - median) / mad
        methods = []
        if z is not None and abs(z) > 3.5:
            methods.append("robust_z")
        if value < low_fence or value > high_fence:
            methods.append("iqr")
        if methods:
            found.append(
                Anomaly(
                    key=key,
                    value=value,
                    robust_z=None if z is None else round(z, 3),
                    methods=tuple(methods),
                )
            )
    return found


def pareto(observations: Sequence[Observation]) -> list[Contributor]:
    """Labels by total value, largest first, with shares and the cumulative share."""
    sums: dict[str, float] = {}
    for obs in observations:
        if obs.label is not None:
            sums[obs.label] = sums.get(obs.label, 0.0) + obs.value
    grand = math.fsum(sums.values())
    running = 0.0
    out: list[Contributor] = []
    for label, value in sorted(sums.items(), key=lambda kv: (-kv[1], kv[0])):
        running += value
        out.append(
            Contributor(
                label=label,
                value=round(value, 4),
                share_pct=round(safe_pct(value, grand) or 0.0, 2),
                cumulative_pct=round(safe_pct(running, grand) or 0.0, 2),
            )
        )
    return out
