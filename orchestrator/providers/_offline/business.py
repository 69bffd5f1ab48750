"""Carbon-step policies for companies: the footprint, and reduction scenarios against it.

The activity data is the uploaded dataset when it holds activity records, else a synthetic
profile built from what the question states (defaults documented below and in
docs/offline-engine.md), always labelled synthetic.
"""

from __future__ import annotations

from typing import Any

from orchestrator.providers._offline import fmt
from orchestrator.providers._offline.extract import (
    REGION_NAMES,
    extract_category,
    extract_levers,
)
from orchestrator.providers._offline.findings import (
    Bar,
    Figure,
    Findings,
    render_step_text,
)
from orchestrator.providers._offline.grid import sources_of
from orchestrator.providers._offline.intent import Understanding
from orchestrator.providers._offline.interpretation import activities_text, report_period
from orchestrator.providers._offline.turns import Answer, Decision, StepInput, ToolResult

__all__ = [
    "DEFAULT_EMPLOYEES",
    "DEFAULT_SECTOR",
    "SYNTHETIC_SEED",
    "conversion_policy",
    "data_arguments",
    "factors_policy",
    "footprint_policy",
    "scenarios_policy",
    "synthetic_profile",
]

DEFAULT_SECTOR = "office"
DEFAULT_EMPLOYEES = 50
DEFAULT_SITES = 1
DEFAULT_FLEET = 2
DEFAULT_LOGISTICS_FLEET = 10
DEFAULT_MONTHS = 12
SYNTHETIC_SEED = 42  # fixed: the same company gets the same data in every run

_ACTIONS: dict[str, str] = {
    "electricity": (
        "Electricity: shift flexible loads to low-carbon hours, improve efficiency (LED, "
        "controls) and contract renewable supply (a market-based figure needs supplier data)."
    ),
    "natural_gas": (
        "Heating: plan a heat pump and fabric upgrades; gas is a direct (scope 1) emission."
    ),
    "diesel": "Fleet: electrify vans on suitable routes or use HVO in the interim.",
    "petrol": "Fleet: replace petrol vehicles with battery-electric ones at renewal.",
    "road_freight": "Freight: consolidate deliveries and ask carriers for lower-carbon options.",
}


def synthetic_profile(u: Understanding) -> dict[str, Any]:
    """The BusinessProfile arguments for a question without uploaded activity data."""
    p = u.profile
    sector = p.sector or DEFAULT_SECTOR
    fleet_default = DEFAULT_LOGISTICS_FLEET if sector == "logistics" else DEFAULT_FLEET
    months, start = DEFAULT_MONTHS, None
    period = report_period(u)
    if period is not None and period.days >= 28:
        months = (
            (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1
        )
        months = max(1, min(months, 36))
        start = period.start.strftime("%Y-%m")
    return {
        "sector": sector,
        "employees": p.employees or DEFAULT_EMPLOYEES,
        "sites": p.sites or DEFAULT_SITES,
        "fleet_vehicles": p.fleet_vehicles if p.fleet_vehicles is not None else fleet_default,
        "seed": SYNTHETIC_SEED,
        "months": months,
        "start_month": start,
    }


def stated_records(u: Understanding) -> list[dict[str, Any]]:
    """The user's stated quantities as activity records (those whose activity is known)."""
    when = (u.dates[0].start if u.dates else u.today).isoformat()
    records: list[dict[str, Any]] = []
    for q in u.quantities:
        if q.activity is None:
            continue
        record: dict[str, Any] = {
            "date": when,
            "category": q.activity,
            "quantity": round(q.value, 6),
            "unit": q.unit,
        }
        if q.activity == "electricity":
            record["region"] = u.region
        records.append(record)
    return records


def data_arguments(u: Understanding) -> dict[str, Any]:
    """Exactly one data source for the footprint tools: the user's own figures (stated in the
    question, or an upload), else a synthetic profile (labelled as such)."""
    records = stated_records(u)
    if records:
        return {"records": records}
    if u.dataset is not None and u.dataset.kind == "activity_records":
        return {"use_dataset": True}
    return {"synthetic_profile": synthetic_profile(u)}


def _unavailable(tool: str) -> Answer:
    return Answer(
        f"I could not estimate the footprint: the `{tool}` tool is not available to this step "
        "in the current configuration, so I have no figures to report."
    )


def footprint_policy(s: StepInput) -> Decision:
    u = s.understanding
    if not s.can("carbon_footprint"):
        return _unavailable("carbon_footprint")
    result = s.last("carbon_footprint")
    if result is None:
        return (s.call("carbon_footprint", grid_region=u.region, **data_arguments(u)),)
    return Answer(render_step_text([footprint_findings(u, result)]))


def footprint_findings(u: Understanding, result: ToolResult) -> Findings:
    if not result.ok:
        return Findings(
            topic="error",
            title="No footprint",
            headline=f"I could not estimate the footprint: {result.error}",
        )
    out = result.output
    totals = out["totals"]
    scope = totals["by_scope"]
    total = totals["total_kgco2e"]
    synthetic = bool(out.get("synthetic"))
    what = _subject(u, out)
    headline = (
        f"The estimated footprint of {what} is {fmt.tonnes(total)} ({fmt.kg(total)}) from "
        f"{out['record_count']} activity records: scope 1 {fmt.tonnes(scope['scope_1'])}, "
        f"scope 2 {fmt.tonnes(scope['scope_2'])} (location-based, "
        f"{REGION_NAMES.get(out['grid_region'], out['grid_region'])} grid), scope 3 "
        f"{fmt.tonnes(scope['scope_3'])}."
    )
    by_category = sorted(totals["by_category"].items(), key=lambda kv: -kv[1])
    figures = [
        Figure("Total footprint", f"{fmt.tonnes(total)} ({fmt.kg(total)})", total, "kgCO2e"),
        Figure("Scope 1 (direct)", fmt.kg(scope["scope_1"]), scope["scope_1"], "kgCO2e"),
        Figure("Scope 2 (electricity)", fmt.kg(scope["scope_2"]), scope["scope_2"], "kgCO2e"),
        Figure("Scope 3 (value chain)", fmt.kg(scope["scope_3"]), scope["scope_3"], "kgCO2e"),
    ]
    if by_category:
        name, value = by_category[0]
        figures.append(Figure("Largest source", f"{_label(name)}: {fmt.kg(value)}"))
    months = totals.get("by_month") or {}
    if months:
        keys = sorted(months)
        figures.append(Figure("Period covered", f"{keys[0]} to {keys[-1]}"))
    sites = totals.get("by_site") or {}
    if len(sites) > 1:
        top_sites = sorted(sites.items(), key=lambda kv: -kv[1])[:3]
        figures.append(Figure("By site", ", ".join(f"{site} {fmt.kg(v)}" for site, v in top_sites)))
    notes = [_factor_note(f) for f in out.get("factors_used", [])[:6]]
    if synthetic:
        notes.insert(
            0,
            "The activity data is SYNTHETIC (generated from the company profile with seed "
            f"{SYNTHETIC_SEED}), not your real consumption.",
        )
    if synthetic and u.profile.fleet_fuel in ("electric", "petrol"):
        notes.append(
            f"You described a {u.profile.fleet_fuel} fleet; the synthetic generator models "
            "diesel vehicles, so the fleet figure is not representative of yours."
        )
    actions = [_ACTIONS[name] for name, _ in by_category[:3] if name in _ACTIONS]
    if synthetic:
        actions.append(
            "Upload your real activity data (date, category, quantity, unit) to replace the "
            "synthetic estimate."
        )
    return Findings(
        topic="footprint",
        title="Carbon footprint",
        headline=headline,
        figures=figures,
        bars_title="Emissions by category (kgCO2e)",
        bars_unit="kgCO2e",
        bars=[Bar(_label(name), value) for name, value in by_category[:8]],
        chart={
            "kind": "footprint_breakdown",
            "title": "Emissions by category",
            "labels": [_label(name) for name, _ in by_category[:8]],
            "values": [value for _, value in by_category[:8]],
            "unit": "kgCO2e",
        },
        actions=actions,
        notes=notes,
        sources=sources_of(out),
        synthetic=synthetic,
        series=[Bar(month, months[month]) for month in sorted(months)],
        series_name="monthly emissions (kgCO2e)",
    )


def _subject(u: Understanding, out: dict[str, Any]) -> str:
    if stated_records(u):
        return activities_text(u)
    if u.dataset is not None and not out.get("synthetic"):
        return f"the uploaded activity data ({u.dataset.name})"
    p = synthetic_profile(u)
    fleet = p["fleet_vehicles"]
    return (
        f"a synthetic {p['sector']} company with {p['employees']} employees, {p['sites']} "
        f"site{'s' if p['sites'] != 1 else ''} and {fleet} fleet vehicle{'s' if fleet != 1 else ''}"
    )


def _label(category: str) -> str:
    return category.replace("_", " ")


def _factor_note(factor: dict[str, Any]) -> str:
    region = f" ({factor['region']})" if factor.get("region") else ""
    return (
        f"Factor {_label(factor['category'])}{region}: {factor['kgco2e_per_unit']} kgCO2e per "
        f"{factor['unit']} ({factor['source']}; factor year {factor['year']})."
    )


# ------------------------------------------------------------------------------ scenarios


def scenarios_policy(s: StepInput) -> Decision:
    u = s.understanding
    if not s.can("reduction_scenarios"):
        return footprint_policy(s)
    footprint = s.last("carbon_footprint")
    scenarios = s.last("reduction_scenarios")
    if scenarios is None:
        levers = extract_levers(u.question)
        calls = []
        if footprint is None and s.can("carbon_footprint"):
            calls.append(s.call("carbon_footprint", grid_region=u.region, **data_arguments(u)))
        calls.append(
            s.call(
                "reduction_scenarios",
                grid_region=u.region,
                shift_electricity_pct=levers.shift_electricity_pct,
                shift_window_hours=(
                    None if u.duration.reason.endswith("(default)") else u.duration.hours
                ),
                fleet_switch_pct=levers.fleet_switch_pct,
                fleet_target=levers.fleet_target,
                cut_flights_pct=levers.cut_flights_pct,
                **data_arguments(u),
            )
        )
        return tuple(calls)
    findings = []
    if footprint is not None:
        baseline = footprint_findings(u, footprint)
        # The scenarios are the specific actions; keep only the data-quality action here.
        baseline.actions = [a for a in baseline.actions if a.startswith("Upload")]
        findings.append(baseline)
    findings.append(_scenario_findings(scenarios))
    return Answer(render_step_text(findings))


def _scenario_findings(result: ToolResult) -> Findings:
    if not result.ok:
        return Findings(
            topic="error",
            title="No scenarios",
            headline=f"I could not model reduction scenarios: {result.error}",
        )
    out = result.output
    ranked = sorted(out["scenarios"], key=lambda sc: -sc["saving_kgco2e"])
    combined_pct = out.get("combined_saving_pct")
    pct_text = "" if combined_pct is None else f", {fmt.pct(combined_pct)} of the baseline"
    headline = (
        f"Together the modelled measures would save {fmt.tonnes(out['combined_saving_kgco2e'])} "
        f"over the period covered ({fmt.kg(out['combined_saving_kgco2e'])}{pct_text}), "
        f"taking the footprint from {fmt.tonnes(out['baseline_kgco2e'])} to "
        f"{fmt.tonnes(out['new_total_kgco2e'])}."
    )
    figures = []
    for sc in ranked:
        share = sc.get("saving_pct_of_total")
        share_text = "" if share is None else f" ({fmt.pct(share)} of the total)"
        figures.append(
            Figure(
                f"Scenario: {sc['name']}",
                f"saves {fmt.kg(sc['saving_kgco2e'])}{share_text}; {sc['description']}",
                sc["saving_kgco2e"],
                "kgCO2e",
            )
        )
    notes = [f"{sc['name']}: {'; '.join(sc['assumptions'])}." for sc in ranked if sc["assumptions"]]
    if out.get("synthetic"):
        notes.append("Scenario inputs include SYNTHETIC data; savings are illustrative.")
    actions = [
        f"{sc['name'].capitalize()}: {sc['description']} (saves {fmt.kg(sc['saving_kgco2e'])})."
        for sc in ranked
        if sc["saving_kgco2e"] > 0
    ]
    zero = [sc["name"] for sc in ranked if sc["saving_kgco2e"] <= 0]
    if zero:
        notes.append(
            "No saving for: " + ", ".join(zero) + " (the data has no emissions this lever acts on)."
        )
    return Findings(
        topic="scenarios",
        title="Reduction scenarios",
        headline=headline,
        figures=figures,
        bars_title="Saving by measure (kgCO2e)",
        bars_unit="kgCO2e",
        bars=[Bar(sc["name"], sc["saving_kgco2e"]) for sc in ranked],
        chart=None,
        actions=actions,
        notes=notes,
        sources=sources_of(out),
        synthetic=bool(out.get("synthetic")),
    )


# -------------------------------------------------------------------------------- factors

MAX_FACTORS_SHOWN = 8


def factors_policy(s: StepInput) -> Decision:
    u = s.understanding
    if not s.can("emission_factors"):
        return Answer(
            "I could not look up emission factors: the `emission_factors` tool is not available "
            "to this step in the current configuration."
        )
    category = extract_category(u.question)
    result = s.last("emission_factors")
    if result is None:
        return (s.call("emission_factors", category=category),)
    if not result.ok and s.tries("emission_factors") == 1 and category is not None:
        # The category was not recognised: list every factor rather than nothing.
        return (s.call("emission_factors", category=None),)
    return Answer(render_step_text([_factor_findings(result, result.arguments.get("category"))]))


def _factor_findings(result: ToolResult, category: str | None) -> Findings:
    if not result.ok:
        return Findings(
            topic="error",
            title="No emission factors",
            headline=f"I could not look up emission factors: {result.error}",
        )
    out = result.output
    factors = out.get("factors", [])
    what = _label(category) if category else "all categories"
    headline = (
        f"Emission factors for {what} in kgCO2e per unit of activity (factor table: "
        f"{out.get('origin', 'packaged')}):"
    )
    figures = []
    for f in factors[:MAX_FACTORS_SHOWN]:
        region = f" ({f['region']})" if f.get("region") else ""
        figures.append(
            Figure(
                f"{_label(f['category'])}{region}",
                f"{f['kgco2e_per_unit']} kgCO2e per {f['unit']} (scope {f['scope']}; "
                f"{f['source']})",
                f["kgco2e_per_unit"],
                f"kgCO2e/{f['unit']}",
            )
        )
    notes = []
    if len(factors) > MAX_FACTORS_SHOWN:
        notes.append("More factors exist; ask about one category to see them all.")
    units = {f["unit"] for f in factors[:MAX_FACTORS_SHOWN]}
    bars = (
        [Bar(fig.label, fig.value) for fig in figures if fig.value is not None]
        if len(units) == 1
        else []
    )
    return Findings(
        topic="factors",
        title="Emission factors",
        headline=headline,
        figures=figures,
        bars_title="kgCO2e per unit",
        bars_unit=f"kgCO2e/{next(iter(units))}" if len(units) == 1 else "",
        bars=bars,
        actions=[
            "Multiply your activity quantities by these factors, or upload your activity data "
            "for a full footprint by scope."
        ],
        notes=notes,
        sources=sources_of(out),
    )


# ----------------------------------------------------------------------------- conversion


def conversion_policy(s: StepInput) -> Decision:
    """ "What is 1 MWh in CO2 in GB": the footprint tool converts the stated amount; "kg CO2
    per litre of diesel": the factor itself, looked up."""
    u = s.understanding
    if stated_records(u):
        return footprint_policy(s)
    return factors_policy(s)
