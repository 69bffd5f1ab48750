"""Carbon-step policy for rankings: the greenest or dirtiest day, ISO week or hour of day.

The ranking is over the bucket means ``grid_intensity`` computed (its ``days``, ``weeks`` and
``hours_of_day``), so every figure is the tool's; a bucket with only forecast points is ranked
on its forecast and says so.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from orchestrator.providers._offline import fmt
from orchestrator.providers._offline.extract import DateRange
from orchestrator.providers._offline.findings import Bar, Figure, Findings
from orchestrator.providers._offline.grid import (
    SYNTHETIC_NOTE,
    bar_chart,
    failed,
    findings_text,
    range_args,
    sources_of,
    unavailable,
)
from orchestrator.providers._offline.intent import Understanding
from orchestrator.providers._offline.interpretation import rank_period
from orchestrator.providers._offline.turns import Answer, Decision, StepInput

__all__ = ["grid_rank_policy", "rank_findings"]


_BUCKETS = {"day": "days", "week": "weeks", "hour": "hours_of_day"}


def grid_rank_policy(s: StepInput) -> Decision:
    """The greenest or dirtiest day, ISO week or hour of day of a period, ranked on the
    bucket means ``grid_intensity`` computed (actual points; forecast-only buckets labelled)."""
    u = s.understanding
    if not s.can("grid_intensity"):
        return unavailable("grid_intensity", "rank the period's days")
    period = rank_period(u)
    result = s.last("grid_intensity")
    if result is None:
        return (s.call("grid_intensity", region=u.region, **range_args(period)),)
    if not result.ok:
        return Answer(findings_text([failed("look up grid intensity", result)]))
    return Answer(findings_text([rank_findings(u, result.output, period)]))


def _bucket_name(bucket: str, item: dict[str, Any]) -> str:
    if bucket == "day":
        day = date.fromisoformat(item["key"])
        return f"{day.strftime('%A')} {day.isoformat()}"
    if bucket == "week":
        return f"week {item['key']} ({item['start_date']} to {item['end_date']})"
    return f"{item['key']}:00-{int(item['key']) + 1:02d}:00"


def rank_findings(u: Understanding, out: dict[str, Any], period: DateRange) -> Findings:
    rank = u.rank
    bucket = rank.bucket if rank is not None else "day"
    extreme = rank.extreme if rank is not None else "greenest"
    items = list(out.get(_BUCKETS[bucket]) or [])
    region = out["region_name"]
    noun = "hour of the day" if bucket == "hour" else bucket
    if len(items) < 2:
        return Findings(
            topic="error",
            title="Nothing to rank",
            headline=(
                f"{period.describe()} holds {len(items)} {noun} of data on the {region} grid, so "
                f"there is nothing to rank; ask about a longer period (e.g. 'last week')."
            ),
        )
    ranked = sorted(items, key=lambda item: (item["mean"], item["key"]))
    best, worst = ranked[0], ranked[-1]
    chosen, other = (best, worst) if extreme == "greenest" else (worst, best)
    other_word = "dirtiest" if extreme == "greenest" else "greenest"
    mean = (out.get("stats") or out.get("forecast_stats") or {}).get("mean")
    past = date.fromisoformat(str(out["end_date"])) < u.today
    verb = "was" if past else "is"
    headline = (
        f"The {extreme} {noun} in {period.describe()} on the {region} grid {verb} "
        f"{_bucket_name(bucket, chosen)}, averaging {fmt.intensity(chosen['mean'])}"
        f"{_forecast_word(chosen)}; the {other_word} {verb} {_bucket_name(bucket, other)} at "
        f"{fmt.intensity(other['mean'])}{_forecast_word(other)}."
    )
    figures = [
        Figure(
            f"{extreme.capitalize()} {noun}",
            f"{_bucket_name(bucket, chosen)}: {fmt.intensity(chosen['mean'])}",
            chosen["mean"],
            "gCO2/kWh",
        ),
        Figure(
            f"{other_word.capitalize()} {noun}",
            f"{_bucket_name(bucket, other)}: {fmt.intensity(other['mean'])}",
            other["mean"],
            "gCO2/kWh",
        ),
    ]
    if mean is not None:
        figures.append(Figure("Period mean", fmt.intensity(mean), mean, "gCO2/kWh"))
    order = ranked if extreme == "greenest" else ranked[::-1]
    figures.append(
        Figure(
            f"Top 3 ({extreme} first)",
            ", ".join(
                f"{_bucket_name(bucket, item)} {fmt.intensity(item['mean'])}" for item in order[:3]
            ),
        )
    )
    notes = [
        f"Each {noun} is ranked on its mean over measured (actual) points; "
        + (
            "a bucket with only forecast points is ranked on its forecast and marked so."
            if any(item["basis"] == "forecast" for item in items)
            else "no forecast points were needed."
        )
    ]
    if out.get("synthetic"):
        notes.append(SYNTHETIC_NOTE)
    pairs = [(item["key"][-5:] if bucket == "day" else item["key"], item["mean"]) for item in items]
    return Findings(
        topic="grid_rank",
        title=f"{extreme.capitalize()} {noun}",
        headline=headline,
        figures=figures,
        bars_title=f"Mean intensity per {noun} (gCO2/kWh)",
        bars_unit="gCO2/kWh",
        bars=[Bar(label, value) for label, value in pairs[:31]],
        chart=bar_chart(
            f"Mean grid intensity per {noun}, {region}, {period.start}..{period.end}", pairs[:31]
        ),
        notes=notes,
        sources=sources_of(out),
        synthetic=bool(out.get("synthetic")),
    )


def _forecast_word(item: dict[str, Any]) -> str:
    return " (forecast)" if item.get("basis") == "forecast" else ""
