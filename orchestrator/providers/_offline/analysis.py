"""Analysis-step policy: statistics of the uploaded dataset, or of synthetic business data.

With an upload, ``analyze_table`` reads it directly (a column the question names is used as the
value column). Activity records mixing units are analysed for one category (the one the
question names, else electricity), which is how the tool asks to be called. Without an upload,
the step generates synthetic business data (labelled synthetic) and analyses monthly revenue.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.providers._offline import fmt
from orchestrator.providers._offline.business import synthetic_profile
from orchestrator.providers._offline.extract import extract_category
from orchestrator.providers._offline.findings import (
    Bar,
    Figure,
    Findings,
    Source,
    findings_from_outputs,
    render_step_text,
)
from orchestrator.providers._offline.grid import sources_of
from orchestrator.providers._offline.intent import Intent, Understanding
from orchestrator.providers._offline.turns import Answer, Call, Decision, StepInput, ToolResult

__all__ = ["analysis_policy"]

_SERIES_WORDS: list[tuple[str, str]] = [
    (r"\bunits?\b|\bvolume\b", "units"),
    (r"\borders?\b", "orders"),
    (r"\brevenue\b|\bsales\b|\bturnover\b|\bincome\b", "revenue_eur"),
]


_VALUE_LABELS = {"revenue_eur": "revenue (EUR)", "units": "units sold", "orders": "orders"}


def analysis_policy(s: StepInput) -> Decision:
    u = s.understanding
    if u.intent in (Intent.FOOTPRINT, Intent.COMPANY_REPORT):
        return _emissions_policy(s)
    if u.dataset is not None:
        return _dataset_policy(s)
    if not (s.can("synthetic_business_data") and s.can("analyze_table")):
        return Answer(
            "I could not analyse business data: this step needs the `synthetic_business_data` "
            "and `analyze_table` tools, which the current configuration does not offer."
        )
    data = s.last("synthetic_business_data")
    if data is None:
        return (s.call("synthetic_business_data", **synthetic_profile(u)),)
    if not data.ok:
        return Answer(render_step_text([_failed("generate synthetic business data", data)]))
    analysis = s.last("analyze_table")
    if analysis is None:
        return (_series_call(s, u, data.output),)
    findings = _analysis_findings(analysis, "synthetic business data", synthetic=True)
    findings.sources.insert(
        0,
        Source(
            name=f"synthetic business data (seed {data.output.get('seed')})",
            kind="business_data",
            synthetic=True,
            detail="generated from the company profile; not real sales",
        ),
    )
    planted = data.output.get("planted_anomalies") or []
    if planted and findings.topic != "error":
        findings.notes.append(
            "The generator planted anomalies (to test detection) in: "
            + ", ".join(f"{a['series']} {a['month']}" for a in planted)
            + "."
        )
    return Answer(render_step_text([findings]))


def _emissions_policy(s: StepInput) -> Decision:
    """Analyse the monthly footprint the carbon step found (its findings carry the series)."""
    found = next((f for f in findings_from_outputs(list(s.earlier)) if f.series), None)
    if found is None:
        return Answer(
            "There is no monthly emissions series from the carbon step to analyse, so I have "
            "no trend to report."
        )
    if not s.can("analyze_table"):
        return Answer(
            "I could not analyse the monthly emissions: the `analyze_table` tool is not "
            "available to this step in the current configuration."
        )
    result = s.last("analyze_table")
    if result is None:
        series = [{"value": b.value, "date": b.label, "label": None} for b in found.series]
        return (s.call("analyze_table", series=series, value_name=found.series_name),)
    findings = _analysis_findings(
        result, "the carbon step's monthly footprint", synthetic=found.synthetic
    )
    findings.sources.insert(
        0,
        Source(
            name="monthly footprint from the carbon step",
            kind="derived",
            synthetic=found.synthetic,
            detail="the carbon_footprint tool's totals by month",
        ),
    )
    return Answer(render_step_text([findings]))


def _series_name(question: str) -> str:
    for pattern, name in _SERIES_WORDS:
        if re.search(pattern, question, re.IGNORECASE):
            return name
    return "revenue_eur"


def _series_call(s: StepInput, u: Understanding, output: dict[str, Any]) -> Call:
    name = _series_name(u.question)
    series = [
        {"value": point[name], "date": point["month"], "label": None}
        for point in output.get("sales", [])
    ]
    return s.call("analyze_table", series=series, value_name=name)


def _dataset_policy(s: StepInput) -> Decision:
    u = s.understanding
    assert u.dataset is not None
    if not s.can("analyze_table"):
        return Answer(
            "I could not analyse the uploaded dataset: the `analyze_table` tool is not available "
            "to this step in the current configuration."
        )
    result = s.last("analyze_table")
    activity = u.dataset.kind == "activity_records"
    if result is None:
        values: dict[str, Any] = {"use_dataset": True}
        column = _named_column(u)
        if column is not None:
            values["value_column"] = column
        if activity:
            values.update(filter_column="category", filter_value=_category(u.question))
        return (s.call("analyze_table", **values),)
    if not result.ok and s.tries("analyze_table") == 1 and "column" in (result.error or ""):
        # The column we picked was refused: let the tool choose its default numeric column.
        retry = {k: v for k, v in result.arguments.items() if k != "value_column"}
        return (s.call("analyze_table", **retry),)
    label = f"the uploaded dataset '{u.dataset.name}'"
    if activity and result.ok:
        label += f" (category {result.arguments.get('filter_value')})"
    return Answer(render_step_text([_analysis_findings(result, label, synthetic=False)]))


_NOT_VALUES = frozenset({"date", "month", "period", "category", "site", "unit"})


def _named_column(u: Understanding) -> str | None:
    """The dataset column the question names: exactly ("revenue"), as a phrase ("electricity
    kwh" for ``electricity_kwh``), else by one of its words ("electricity")."""
    assert u.dataset is not None
    text = u.question.lower()
    words = set(re.findall(r"[a-z0-9_]+", text))
    columns = [c for c in u.dataset.columns if c.lower() not in _NOT_VALUES]
    for column in columns:
        name = column.lower()
        if name in words or name.replace("_", " ") in text:
            return column
    for column in columns:
        parts = {p for p in column.lower().split("_") if len(p) >= 4}
        if parts & words:
            return column
    return None


def _category(question: str) -> str:
    """The dataset category to analyse: the one the question names, else electricity."""
    named = extract_category(question)
    return {
        "flight": "flight_short_haul_economy",
        "water": "water_supply",
        "waste": "waste_landfill",
    }.get(named or "electricity", named or "electricity")


def _failed(what: str, result: ToolResult) -> Findings:
    return Findings(
        topic="error", title="No result", headline=f"I could not {what}: {result.error}"
    )


def _analysis_findings(result: ToolResult, label: str, *, synthetic: bool) -> Findings:
    if not result.ok:
        return _failed(f"analyse {label}", result)
    out = result.output
    d = out["descriptive"]
    name = _VALUE_LABELS.get(out["value_name"], out["value_name"])
    trend = out.get("trend")
    trend_text = ""
    if trend is not None:
        trend_text = (
            f"; the trend is {trend['direction']} ({fmt.value(trend['slope'])} per "
            f"{trend['per']}, R² {fmt.num(trend['r_squared'], 2)})"
        )
    headline = (
        f"Analysed {out['count']} values of {name} from {label}: total "
        f"{fmt.value(d['total'])}, mean {fmt.value(d['mean'])}, median "
        f"{fmt.value(d['median'])}{trend_text}."
    )
    figures = [
        Figure("Values analysed", str(out["count"]), float(out["count"])),
        Figure(f"Total {name}", fmt.value(d["total"]), d["total"]),
        Figure(f"Mean {name}", fmt.value(d["mean"]), d["mean"]),
        Figure("Range", f"{fmt.value(d['min'])} to {fmt.value(d['max'])}"),
        Figure("Standard deviation", fmt.value(d["std"]), d["std"]),
    ]
    monthly = out.get("monthly") or []
    if isinstance(monthly, list) and monthly:
        last = monthly[-1]
        if last.get("mom_pct") is not None:
            figures.append(
                Figure(
                    f"Month-over-month ({last['month']})",
                    fmt.signed_pct(last["mom_pct"]),
                    last["mom_pct"],
                    "%",
                )
            )
        if last.get("yoy_pct") is not None:
            figures.append(
                Figure(
                    f"Year-over-year ({last['month']})",
                    fmt.signed_pct(last["yoy_pct"]),
                    last["yoy_pct"],
                    "%",
                )
            )
    anomalies = out.get("anomalies") or []
    if anomalies:
        figures.append(
            Figure(
                f"Anomalies ({out['anomaly_basis']})",
                ", ".join(f"{a['key']} ({fmt.value(a['value'])})" for a in anomalies[:5]),
            )
        )
    else:
        figures.append(Figure("Anomalies", "none flagged (robust z-score and IQR tests)"))
    pareto = out.get("pareto") or []
    if len(pareto) > 1:
        figures.append(
            Figure(
                "Top contributors",
                ", ".join(f"{c['label']} {fmt.pct(c['share_pct'])}" for c in pareto[:3])
                + f"; {out['pareto_80_count']} of {len(pareto)} make up 80%",
            )
        )
    actions = []
    if anomalies:
        actions.append(
            "Check the flagged periods ("
            + ", ".join(a["key"] for a in anomalies[:5])
            + ") for data errors or one-off events before using the figures."
        )
    if len(pareto) > 1:
        actions.append(f"Focus first on the largest contributor, {pareto[0]['label']}.")
    if trend is not None and trend["direction"] != "flat":
        actions.append(f"Track the {trend['direction']} trend monthly and set a target for it.")
    bars: list[Bar]
    if isinstance(monthly, list) and monthly:
        bars = [Bar(m["month"], m["value"]) for m in monthly[-12:]]
        bars_title = f"{name} by month"
    else:
        bars = [Bar(c["label"], c["value"]) for c in pareto[:8]]
        bars_title = f"{name} by contributor"
    notes = []
    if synthetic:
        notes.append("The data analysed is SYNTHETIC (generated with a fixed seed), not real.")
    # A series the engine passed in is described by the caller, not as "from the request".
    sources = [src for src in sources_of(out) if src.kind != "inline"]
    return Findings(
        topic="analysis",
        title=f"Analysis of {name}",
        headline=headline,
        figures=figures,
        bars_title=bars_title,
        bars_unit=name,
        bars=bars,
        chart=(
            {
                "kind": "trend",
                "title": bars_title,
                "labels": [b.label for b in bars],
                "values": [b.value for b in bars],
                "unit": name,
            }
            if len(bars) >= 2
            else None
        ),
        actions=actions,
        notes=notes,
        sources=sources,
        synthetic=synthetic,
    )
