"""Carbon-step policies for grid questions: cleanest window, a period's profile, comparisons.

Each policy looks at what the step has already called and decides the next tool calls or the
final findings. Tool errors are handled once (arguments repaired where a fix is known), then
explained; numbers in the findings are only ever tool values through ``fmt``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from orchestrator.providers._offline import fmt
from orchestrator.providers._offline.extract import REGION_NAMES, DateRange
from orchestrator.providers._offline.findings import (
    Bar,
    Figure,
    Findings,
    Source,
    render_step_text,
)
from orchestrator.providers._offline.intent import Understanding
from orchestrator.providers._offline.interpretation import future_part
from orchestrator.providers._offline.turns import Answer, Call, Decision, StepInput, ToolResult

__all__ = [
    "SYNTHETIC_NOTE",
    "bar_chart",
    "best_window_call",
    "failed",
    "findings_text",
    "grid_compare_policy",
    "grid_history_policy",
    "grid_timing_policy",
    "range_args",
    "sources_of",
    "timing_findings",
    "unavailable",
]

SYNTHETIC_NOTE = (
    "Grid intensity data is SYNTHETIC: a deterministic offline profile, not measurements. "
    "Configure a live source (EirGrid or the GB Carbon Intensity API) for real data."
)


def sources_of(output: Any) -> list[Source]:
    raw = output.get("sources") if isinstance(output, dict) else None
    out: list[Source] = []
    for item in raw or []:
        if isinstance(item, dict) and "name" in item:
            out.append(
                Source(
                    name=str(item["name"]),
                    kind=str(item.get("kind", "")),
                    synthetic=bool(item.get("synthetic", False)),
                    detail=str(item.get("detail") or ""),
                )
            )
    return out


def range_args(period: DateRange) -> dict[str, str]:
    return {"start_date": period.start.isoformat(), "end_date": period.end.isoformat()}


def unavailable(tool: str, what: str) -> Answer:
    return Answer(
        f"I could not {what}: the `{tool}` tool is not available to this step in the current "
        "configuration, so I have no figures to report."
    )


def failed(what: str, result: ToolResult) -> Findings:
    return Findings(
        topic="error",
        title="No result",
        headline=f"I could not {what}: {result.error}",
    )


# ---------------------------------------------------------------------------- best window


def grid_timing_policy(s: StepInput) -> Decision:
    u = s.understanding
    if not s.can("grid_best_window"):
        return unavailable("grid_best_window", "search for the cleanest window")
    best = s.last("grid_best_window")
    period = future_part(u.period(), u.today)
    if best is None:
        calls = [best_window_call(s, period)]
        if s.can("grid_intensity") and period.days <= 7:
            calls.append(s.call("grid_intensity", region=u.region, **range_args(period)))
        return tuple(calls)
    if not best.ok and s.tries("grid_best_window") == 1 and period.end <= u.today:
        # Today's remaining hours may be too few for the load: look at tomorrow instead,
        # which is what the user needs to know next.
        tomorrow = DateRange(u.today + timedelta(days=1), u.today + timedelta(days=1), "tomorrow")
        calls = [best_window_call(s, tomorrow)]
        if s.can("grid_intensity"):
            calls.append(s.call("grid_intensity", region=u.region, **range_args(tomorrow)))
        return tuple(calls)
    if not best.ok:
        return Answer(findings_text([failed("find the cleanest window", best)]))
    profile = s.last("grid_intensity")
    if profile is not None and profile.ok and not _same_range(profile.output, best.output):
        profile = None  # a profile of another day would describe the wrong hours
    findings = timing_findings(u, best.output, profile)
    first = s.all("grid_best_window")[0]
    if not first.ok:
        findings.notes.insert(
            0,
            f"No window was left for {first.arguments.get('date')} from now on "
            f"({first.error}), so the search moved to the next day.",
        )
    return Answer(findings_text([findings]))


def _same_range(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("start_date"), a.get("end_date")) == (b.get("start_date"), b.get("end_date"))


def best_window_call(s: StepInput, period: DateRange, energy_kwh: float | None = None) -> Call:
    """``grid_best_window`` for ``period`` with the ask's load; ``energy_kwh`` overrides the
    stated energy (a shifted share of it)."""
    u = s.understanding
    if period.days == 1:
        dates: dict[str, str | None] = {"date": period.start.isoformat()}
    else:
        dates = {"start_date": period.start.isoformat(), "end_date": period.end.isoformat()}
    return s.call(
        "grid_best_window",
        region=u.region,
        duration_hours=u.duration.hours,
        energy_kwh=round(energy_kwh, 6) if energy_kwh else u.energy_kwh,
        earliest_hour=u.hours.earliest if u.hours else None,
        latest_hour=u.hours.latest if u.hours else None,
        **dates,
    )


def timing_findings(u: Understanding, out: dict[str, Any], profile: ToolResult | None) -> Findings:
    window = out["window"]
    region = out.get("region_name") or REGION_NAMES[u.region]
    tz = fmt.zone(out.get("timezone"))
    start, end = window["start"], window["end"]
    day = fmt.day(start, tz).isoformat()
    past = fmt.parse(end) <= fmt.parse(out["now"])
    headline = (
        f"The cleanest {fmt.num(out['duration_hours'], 1).removesuffix('.0')}-hour window on the "
        f"{region} grid {'was' if past else 'is'} "
        f"{fmt.when(start, end, tz)}, averaging {fmt.intensity(window['mean'])} "
        f"({out['level']} for the period)."
    )
    figures = [
        Figure("Best window", fmt.when(start, end, tz)),
        Figure("Window mean", fmt.intensity(window["mean"]), window["mean"], "gCO2/kWh"),
        Figure("Day mean", fmt.intensity(out["day_mean"]), out["day_mean"], "gCO2/kWh"),
        Figure(
            "Saving vs day mean",
            _saving_text(out["saving_vs_day_mean"], out.get("saving_vs_day_mean_pct")),
            out["saving_vs_day_mean"],
            "gCO2/kWh",
        ),
    ]
    bars = [Bar("Best window", window["mean"]), Bar("Day mean", out["day_mean"])]
    now_window = out.get("now_window")
    if now_window is not None and out.get("saving_vs_now") is not None:
        saving = _saving_text(out["saving_vs_now"], out.get("saving_vs_now_pct"))
        verdict = (
            f"so waiting saves {saving}"
            if out["saving_vs_now"] >= 0
            else f"so within your hours the window costs {saving.removeprefix('none: ')} than now"
        )
        headline += (
            f" Starting now instead would average {fmt.intensity(now_window['mean'])}, {verdict}."
        )
        figures.insert(
            2,
            Figure(
                "Running now", fmt.intensity(now_window["mean"]), now_window["mean"], "gCO2/kWh"
            ),
        )
        figures.append(
            Figure(
                "Saving vs now",
                _saving_text(out["saving_vs_now"], out.get("saving_vs_now_pct")),
                out["saving_vs_now"],
                "gCO2/kWh",
            )
        )
        bars.insert(1, Bar("Now", now_window["mean"]))
    for key, versus in (("saving_vs_now_kg", "now"), ("saving_vs_day_mean_kg", "day mean")):
        if out.get(key) is not None and out.get("energy_kwh") is not None:
            figures.append(
                Figure(
                    f"Emissions avoided vs {versus}",
                    f"{fmt.kg(out[key])} for {fmt.num(out['energy_kwh'], 1)} kWh",
                    out[key],
                    "kgCO2e",
                )
            )
    thresholds = out["thresholds"]
    figures.append(
        Figure(
            "Level thresholds",
            f"low up to {fmt.intensity(thresholds['p33'])}, high above "
            f"{fmt.intensity(thresholds['p66'])} (33rd/66th percentiles{_basis(thresholds)})",
        )
    )
    notes = [f"Load duration: {u.duration.reason}."]
    if u.hours is not None:
        earliest, latest = u.hours.earliest, u.hours.latest
        if earliest is not None and latest is not None:
            bounds = f"local hours {earliest} to {latest}"
        elif earliest is not None:
            bounds = f"from local hour {earliest}"
        else:
            bounds = f"before local hour {latest}"
        bounds += f", {tz.key}"
        notes.append(f"Search limited to {u.hours.reason} ({bounds}).")
    if out.get("uses_forecast"):
        notes.append("The window is based on FORECAST intensity, not measurements.")
    if out.get("day_forecast_points"):
        notes.append(
            f"The day mean includes {out['day_forecast_points']} forecast points of "
            f"{out['day_points']} (the part of the day not yet measured)."
        )
    if out.get("synthetic"):
        notes.append(SYNTHETIC_NOTE)
    if past:
        actions = [
            "This window is in the past; for a load you still have to run, ask about today or "
            "tomorrow to get a window you can use."
        ]
    else:
        actions = [
            f"Set the delay-start timer so the load runs {fmt.times(start, end, tz)} on {day}."
        ]
    if profile is not None and profile.ok:
        lows = _periods(profile.output, "low")
        highs = _periods(profile.output, "high")
        if lows:
            figures.append(Figure("Low-carbon periods", lows))
        if highs:
            actions.append(f"Avoid running flexible loads in the high periods: {highs}.")
    sources = sources_of(out)
    return Findings(
        topic="grid_window",
        title="Cleanest time to use electricity",
        headline=headline,
        figures=figures,
        bars_title="Mean intensity (gCO2/kWh)",
        bars_unit="gCO2/kWh",
        bars=bars,
        levels=_levels(profile.output) if profile is not None and profile.ok else [],
        levels_label="Level per interval (low/medium/high)",
        chart={
            "kind": "grid_intensity",
            "title": None,
            "region": out["region"],
            "start_date": out["start_date"],
            "end_date": out["end_date"],
            # The chart tool searches the whole range; when the range includes now, its window
            # could lie in the past, so only the tool's own (future) window is reported.
            "best_window_hours": None if now_window is not None else out["duration_hours"],
        },
        actions=actions,
        notes=notes,
        sources=sources,
        synthetic=bool(out.get("synthetic")),
    )


def _basis(thresholds: dict[str, Any]) -> str:
    """What the thresholds were taken over, when that is not actual values alone."""
    basis = thresholds.get("basis")
    if basis == "actual+forecast":
        return " of actual and forecast values together"
    return " of forecast values" if basis == "forecast" else ""


def _levels(output: Any) -> list[str]:
    """The low/medium/high strip: each period's level repeated for its points, in time order
    (only when every period is listed, i.e. the tool did not truncate them)."""
    if not isinstance(output, dict) or output.get("periods_truncated"):
        return []
    periods = sorted(output.get("periods", []), key=lambda p: p["start"])
    return [p["level"] for p in periods for _ in range(int(p.get("points", 0)))]


def bar_chart(title: str, pairs: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "kind": "footprint_breakdown",
        "title": title,
        "labels": [label for label, _ in pairs],
        "values": [value for _, value in pairs],
        "unit": "gCO2/kWh",
    }


def _saving_text(saving: float, saving_pct: float | None) -> str:
    """A saving as written by the tool; a negative one (the user's hour limits can force a
    dirtier window) is said as such rather than shown as a minus sign."""
    text = f"{fmt.num(abs(saving))} gCO2/kWh"
    if saving_pct is not None:
        text += f" ({fmt.pct(abs(saving_pct))})"
    return text if saving >= 0 else f"none: {text} more"


def _periods(output: Any, level: str, limit: int = 3) -> str:
    """The ``limit`` most extreme periods of ``level`` (lowest means first for "low")."""
    periods = [p for p in output.get("periods", []) if p.get("level") == level]
    periods.sort(key=lambda p: p["mean"] if level == "low" else -p["mean"])
    one_day = output.get("start_date") == output.get("end_date")
    tz = fmt.zone(output.get("timezone"))
    parts = []
    for p in periods[:limit]:
        span = fmt.times if one_day else fmt.when
        parts.append(f"{span(p['start'], p['end'], tz)} at {fmt.intensity(p['mean'])}")
    return ", ".join(parts)


# -------------------------------------------------------------------------------- history


def grid_history_policy(s: StepInput) -> Decision:
    u = s.understanding
    if not s.can("grid_intensity"):
        return unavailable("grid_intensity", "look up grid intensity")
    result = s.last("grid_intensity")
    period = u.period()
    if result is None:
        return (s.call("grid_intensity", region=u.region, **range_args(period)),)
    first = s.all("grid_intensity")[0]
    if not result.ok and s.tries("grid_intensity") == 1 and "too long" in (result.error or ""):
        # Keep the most recent year of the range, which the tool accepts.
        recent = DateRange(max(period.start, period.end - timedelta(days=365)), period.end, "")
        return (s.call("grid_intensity", region=u.region, **range_args(recent)),)
    if not result.ok:
        return Answer(findings_text([failed("look up grid intensity", result)]))
    findings = history_findings(result.output, period.label if first.ok else "")
    if not first.ok:
        findings.notes.insert(
            0,
            f"The requested range was refused ({first.error}), so only its most recent part "
            f"was analysed.",
        )
    return Answer(findings_text([findings]))


def history_findings(out: dict[str, Any], label: str, *, prefix: str = "") -> Findings:
    """Findings for one grid_intensity result; ``prefix`` names the region in figure labels
    when several regions are reported side by side."""
    region = out["region_name"]
    tz = fmt.zone(out.get("timezone"))
    period = f"{out['start_date']} to {out['end_date']}"
    if out["start_date"] == out["end_date"]:
        period = out["start_date"]
    if label and label not in (period,):
        period = f"{label} ({period})"
    stats = out.get("stats")
    fstats = out.get("forecast_stats")
    figures: list[Figure] = []
    notes: list[str] = []
    # Actual (non-forecast) points are "measured" only when a live source produced them.
    actuals = "synthetic actuals" if out.get("synthetic") else "measured"
    if stats is not None:
        headline = (
            f"On the {region} grid, {period} averaged {fmt.intensity(stats['mean'])} ({actuals}), "
            f"from {fmt.num(stats['min'])} at {fmt.stamp(stats['min_at'], tz)} to "
            f"{fmt.num(stats['max'])} at {fmt.stamp(stats['max_at'], tz)}."
        )
        figures += [
            Figure("Mean intensity", fmt.intensity(stats["mean"]), stats["mean"], "gCO2/kWh"),
            Figure("Minimum", fmt.intensity(stats["min"]), stats["min"], "gCO2/kWh"),
            Figure("Maximum", fmt.intensity(stats["max"]), stats["max"], "gCO2/kWh"),
        ]
    elif fstats is not None:
        headline = (
            f"For {period} the {region} grid is FORECAST to average "
            f"{fmt.intensity(fstats['mean'])}, between {fmt.num(fstats['min'])} and "
            f"{fmt.num(fstats['max'])}."
        )
    else:
        headline = f"No grid intensity data was returned for {period} on the {region} grid."
    if stats is not None and fstats is not None:
        figures.append(
            Figure(
                "Forecast mean (rest of range)",
                fmt.intensity(fstats["mean"]),
                fstats["mean"],
                "gCO2/kWh",
            )
        )
        notes.append(f"Forecast points are reported separately from {actuals}.")
    elif fstats is not None:
        figures.append(
            Figure("Forecast mean", fmt.intensity(fstats["mean"]), fstats["mean"], "gCO2/kWh")
        )
        notes.append("All values for this range are FORECASTS, not measurements.")
    trend = out.get("trend")
    if trend is not None and trend.get("direction"):
        slope = trend.get("slope_per_day")
        detail = "" if slope is None else f" ({fmt.num(slope, 1)} gCO2/kWh per day"
        if detail and trend.get("r_squared") is not None:
            detail += f", R² {fmt.num(trend['r_squared'], 2)})"
        elif detail:
            detail += ")"
        figures.append(Figure("Trend", f"{trend['direction']}{detail}"))
    thresholds = out["thresholds"]
    # level_counts are actual points, forecast_level_counts forecast ones.
    actual_counts = out.get("level_counts", {})
    forecast_counts = out.get("forecast_level_counts") or {}
    counts = actual_counts if stats is not None or not forecast_counts else forecast_counts

    def level_points(level: str) -> str:
        n, f = actual_counts.get(level, 0), forecast_counts.get(level, 0)
        if stats is None and f:
            return f"{f} forecast points"
        if f:
            return f"{n} actual and {f} forecast points"
        return f"{n} actual points" if any(forecast_counts.values()) else f"{n} points"

    figures.append(
        Figure(
            "Levels",
            f"low up to {fmt.intensity(thresholds['p33'])} ({level_points('low')}), "
            f"high above {fmt.intensity(thresholds['p66'])} ({level_points('high')}); "
            f"33rd/66th percentiles{_basis(thresholds)}",
        )
    )
    lows = _periods(out, "low") if out.get("view") == "raw" else ""
    if lows:
        figures.append(Figure("Cleanest periods", lows))
    months = out.get("months") or []
    bars: list[Bar]
    if months:
        bars = [
            Bar(m["month"] + (" (forecast)" if m.get("basis") == "forecast" else ""), m["mean"])
            for m in months
        ]
        bars_title = "Monthly mean intensity (gCO2/kWh)"
        if any(m.get("forecast_points") for m in months):
            notes.append(
                "Monthly means are of actual values only; a month without any is shown from "
                "its forecasts and marked (forecast)."
            )
    else:
        bars = [Bar(level, float(counts.get(level, 0))) for level in ("low", "medium", "high")]
        kind = ""
        if forecast_counts and any(forecast_counts.values()):
            kind = "actual, " if stats is not None else "forecast, "
        bars_title = f"Points per level ({kind}{out.get('view', 'raw')} view)"
    if out.get("synthetic"):
        notes.append(SYNTHETIC_NOTE)
    actions = []
    if lows:
        actions.append(f"Shift flexible electricity use into the low periods: {lows}.")
    actions.append(
        "Schedule flexible loads (EV charging, heating, laundry) when intensity is below "
        f"{fmt.intensity(thresholds['p33'])}."
    )
    levels_label = f"Level per interval ({out.get('view', 'raw')} view)"
    if prefix:
        figures = [msgspec.structs.replace(f, label=f"{prefix}: {f.label}") for f in figures]
        actions = [f"{prefix}: {a}" for a in actions]
        levels_label = f"{prefix}: {levels_label}"
    return Findings(
        topic="grid_history",
        title=f"Grid carbon intensity, {region}",
        headline=headline,
        figures=figures,
        bars_title=bars_title,
        bars_unit="gCO2/kWh" if months else "points",
        bars=bars,
        levels=_levels(out),
        levels_label=levels_label,
        chart={
            "kind": "grid_intensity",
            "title": None,
            "region": out["region"],
            "start_date": out["start_date"],
            "end_date": out["end_date"],
            "best_window_hours": None,
        },
        actions=actions,
        notes=notes,
        sources=sources_of(out),
        synthetic=bool(out.get("synthetic")),
    )


# ------------------------------------------------------------------------------- compare


def _previous_period(period: DateRange) -> DateRange:
    """The period before ``period``: the previous calendar month for a month, else the same
    number of days immediately before."""
    if (period.start.day == 1 and (period.end + timedelta(days=1)).day == 1) or (
        period.start.day == 1 and period.label.endswith("month")
    ):
        end = period.start - timedelta(days=1)
        return DateRange(end.replace(day=1), end, "the month before")
    end = period.start - timedelta(days=1)
    return DateRange(end - timedelta(days=period.days - 1), end, "the period before")


def grid_compare_policy(s: StepInput) -> Decision:
    u = s.understanding
    if len(u.regions) > 1:
        return _compare_regions(s)
    if not s.can("grid_compare"):
        return unavailable("grid_compare", "compare the two periods")
    result = s.last("grid_compare")
    if len(u.dates) > 1:
        first, second = sorted(u.dates[:2], key=lambda d: d.start)
    else:
        second = u.period()
        first = _previous_period(second)
    if result is None:
        return (
            s.call(
                "grid_compare",
                region=u.region,
                first_start_date=first.start.isoformat(),
                first_end_date=first.end.isoformat(),
                second_start_date=second.start.isoformat(),
                second_end_date=second.end.isoformat(),
            ),
        )
    if not result.ok:
        return Answer(findings_text([failed("compare the two periods", result)]))
    return Answer(findings_text([_compare_findings(result.output, first, second)]))


def _span(summary: dict[str, Any]) -> str:
    if summary["start_date"] == summary["end_date"]:
        return str(summary["start_date"])
    return f"{summary['start_date']} to {summary['end_date']}"


def _forecast_tag(summary: dict[str, Any]) -> str:
    return " (forecast)" if summary.get("basis") == "forecast" else ""


def _forecast_note(summary: dict[str, Any]) -> str:
    """How a compared range's figures treat its forecast points (the tool's mean/min/max are
    of actual values; of forecasts only for a range with no actual value)."""
    span, count = _span(summary), summary.get("forecast_points", 0)
    if summary.get("basis") == "forecast":
        return f"{span} has no actual values yet: its figures are FORECASTS ({count} points)."
    if not count:
        return ""
    if summary.get("forecast_mean") is None:  # a summary without the separate forecast figures
        return f"{span} includes {count} forecast points, not only actual values."
    return (
        f"{span}: the figures cover actual values only; its {count} forecast points are left "
        f"out (their mean: {fmt.intensity(summary['forecast_mean'])})."
    )


def _compare_findings(out: dict[str, Any], first: DateRange, second: DateRange) -> Findings:
    a, b = out["first"], out["second"]
    diff = out["difference"]
    change = "" if out.get("pct_change") is None else f" ({fmt.signed_pct(out['pct_change'])})"
    if abs(diff) < 0.5:
        verdict = "about the same"
    else:
        verdict = "cleaner" if diff < 0 else "more carbon-intensive"
    fa, fb = _forecast_tag(a), _forecast_tag(b)
    headline = (
        f"On the {out['region_name']} grid, {second.label or _span(b)} ({_span(b)}) averaged "
        f"{fmt.intensity(b['mean'])}{fb} against {fmt.intensity(a['mean'])}{fa} for "
        f"{first.label or _span(a)} ({_span(a)}): a change of {fmt.num(diff, 1)} gCO2/kWh{change}, "
        f"so the later period {'is forecast to be' if fa or fb else 'was'} {verdict}."
    )
    figures = [
        Figure(f"Mean {_span(a)}{fa}", fmt.intensity(a["mean"]), a["mean"], "gCO2/kWh"),
        Figure(f"Mean {_span(b)}{fb}", fmt.intensity(b["mean"]), b["mean"], "gCO2/kWh"),
        Figure("Change", f"{fmt.num(diff, 1)} gCO2/kWh{change}", diff, "gCO2/kWh"),
        Figure(f"Range {_span(a)}{fa}", f"{fmt.num(a['min'])} to {fmt.intensity(a['max'])}"),
        Figure(f"Range {_span(b)}{fb}", f"{fmt.num(b['min'])} to {fmt.intensity(b['max'])}"),
    ]
    notes = [note for note in (_forecast_note(a), _forecast_note(b)) if note]
    if out.get("synthetic"):
        notes.append(SYNTHETIC_NOTE)
    return Findings(
        topic="grid_compare",
        title=f"Grid comparison, {out['region_name']}",
        headline=headline,
        figures=figures,
        bars_title="Mean intensity (gCO2/kWh)",
        bars_unit="gCO2/kWh",
        bars=[Bar(_span(a), a["mean"]), Bar(_span(b), b["mean"])],
        chart=bar_chart(
            "Mean grid intensity by period", [(_span(a), a["mean"]), (_span(b), b["mean"])]
        ),
        actions=[
            "Keep shifting flexible loads into low-intensity hours; the monthly mean hides "
            "large daily swings."
        ],
        notes=notes,
        sources=sources_of(out),
        synthetic=bool(out.get("synthetic")),
    )


def _compare_regions(s: StepInput) -> Decision:
    u = s.understanding
    if not s.can("grid_intensity"):
        return unavailable("grid_intensity", "compare the regions")
    regions = list(u.regions[:2])
    done = s.all("grid_intensity")
    if not done:
        period = u.period()
        return tuple(
            s.call("grid_intensity", region=region, **range_args(period)) for region in regions
        )
    findings: list[Findings] = []
    for result in done:
        if result.ok:
            output = result.output
            findings.append(
                history_findings(output, u.period().label, prefix=output["region"].upper())
            )
        else:
            findings.append(failed(f"look up {result.arguments.get('region')}", result))
    ok = [r.output for r in done if r.ok and r.output.get("stats")]
    if len(ok) == 2:
        (a, b) = ok
        lower = a if a["stats"]["mean"] < b["stats"]["mean"] else b
        other = b if lower is a else a
        summary = Findings(
            topic="grid_compare_regions",
            title="Regional comparison",
            headline=(
                f"Over the same dates, {lower['region_name']} averaged "
                f"{fmt.intensity(lower['stats']['mean'])}, lower than "
                f"{other['region_name']} at {fmt.intensity(other['stats']['mean'])}."
            ),
            bars_title="Mean intensity by region (gCO2/kWh)",
            bars_unit="gCO2/kWh",
            figures=[
                Figure(
                    f"{o['region'].upper()} mean",
                    fmt.intensity(o["stats"]["mean"]),
                    o["stats"]["mean"],
                    "gCO2/kWh",
                )
                for o in ok
            ],
            bars=[Bar(o["region"], o["stats"]["mean"]) for o in ok],
            chart=bar_chart(
                "Mean grid intensity by region",
                [(o["region_name"], o["stats"]["mean"]) for o in ok],
            ),
            synthetic=any(o.get("synthetic") for o in ok),
        )
        for f in findings:  # each region's mean is now a summary figure
            f.figures = [x for x in f.figures if not x.label.endswith("Mean intensity")]
        findings.insert(0, summary)
    return Answer(findings_text(findings))


def findings_text(findings: list[Findings]) -> str:
    return render_step_text(findings)
