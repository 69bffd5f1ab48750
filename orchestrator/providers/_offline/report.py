"""The report step: greetings and off-topic answers, and the final Markdown report.

The report reads the earlier steps' findings (their hidden facts blocks), asks the render tools
for an ASCII dashboard and a chart, then writes: executive summary, key figures, dashboard,
chart, action items and data provenance. It adds no number of its own.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.providers._offline.findings import Findings, findings_from_outputs
from orchestrator.providers._offline.intent import Intent, Understanding
from orchestrator.providers._offline.interpretation import STEP_OF_INTENT
from orchestrator.providers._offline.render import chart_call, dashboard_call, dashboard_text
from orchestrator.providers._offline.turns import Answer, Decision, StepInput

__all__ = ["CAPABILITIES", "report_policy"]

CAPABILITIES = (
    "- **Grid timing**: the cleanest hours to run a dishwasher, charge an EV or shift any "
    "flexible load today or tomorrow (Ireland, Northern Ireland, all-island, Great Britain).\n"
    "- **Grid history and comparisons**: how green the grid was last week or in a given month, "
    "and how periods or regions compare.\n"
    "- **Carbon footprints**: direct, energy and value-chain (GHG Protocol scope) estimates "
    "for a company from uploaded activity data or a synthetic profile, with the emission "
    "factors and their sources.\n"
    "- **Data analysis**: statistics, trends, anomalies and top contributors in an uploaded "
    "CSV or in synthetic business data.\n"
    "- **Reduction scenarios** and a report with an ASCII dashboard, a chart, action items and "
    "the data provenance."
)


_SOURCE_NAMES = {
    "synthetic": "synthetic (the offline default)",
    "eirgrid": "EirGrid Smart Grid Dashboard (live)",
    "uk": "GB National Grid Carbon Intensity API (live)",
    "file": "a file supplied by the operator",
}


def report_policy(s: StepInput) -> Decision:
    u = s.understanding
    asks = s.reading.asks if s.reading is not None else (u,)
    if all(a.intent is Intent.GREETING for a in asks):
        opening = (
            "You're welcome!"
            if re.match(r"\s*(?:thanks|thank you|cheers)\b", u.question, re.IGNORECASE)
            else "Hello!"
        )
        return Answer(
            f"{opening} I'm Sustainable City AI. I answer sustainability and business questions "
            "with figures computed by real tools, and I say when data is synthetic. I can help "
            "with:\n\n"
            f"{CAPABILITIES}\n\nTry: *When is the grid cleanest tomorrow?*"
        )
    lead = _lead(s)
    unanswered = [_unanswered(a) for a in asks if STEP_OF_INTENT.get(a.intent) is None]
    unanswered = [text for text in unanswered if text]
    if all(STEP_OF_INTENT.get(a.intent) is None for a in asks):
        lines = [*lead, *unanswered]
        if any(a.intent is Intent.OFF_TOPIC for a in asks):
            lines += [
                "",
                "That question is outside what I can help with: I focus on sustainability and "
                "business data, and I would rather not guess. Here is what I can do:",
                "",
                CAPABILITIES,
                "",
                "Try: *How green was the grid last week?*",
            ]
        return Answer("\n".join(lines).strip())
    findings = findings_from_outputs(list(s.earlier))
    if not findings:
        return Answer(_plain_report(s.earlier))
    wanted = []
    dashboard = s.last("render_dashboard")
    chart = s.last("render_chart")
    drawable = any(fig.value is not None for f in findings for fig in f.figures) or any(
        f.bars or f.levels for f in findings
    )
    if dashboard is None and drawable and s.can("render_dashboard"):
        wanted.append(dashboard_call(s, findings))
    chart_args = next((f.chart for f in findings if f.chart is not None), None)
    if chart is None and chart_args is not None and s.can("render_chart"):
        wanted.append(chart_call(s, chart_args, findings))
    if wanted:
        return tuple(wanted)
    return Answer(_report(findings, s, lead, unanswered))


def _lead(s: StepInput) -> list[str]:
    """The report's first lines: how the question was read, then what was corrected,
    assumed or could not be read."""
    if s.reading is None:
        return []
    view = s.reading.view()
    lines = [view.summary()]
    if view.notices:
        lines += ["", *(f"- {notice}" for notice in view.notices)]
    return [*lines, ""]


def _unanswered(u: Understanding) -> str:
    """The answer, in words, to an ask no step computes."""
    if u.intent is Intent.INVALID:
        return f'I cannot answer "{u.question}" as written: {"; ".join(u.problems)}.'
    if u.intent is Intent.NEEDS:
        return f'I cannot answer "{u.question}" offline: it needs {u.needs}.'
    if u.intent is Intent.OFF_TOPIC:
        return f'"{u.question}" is outside sustainability and business data, so I leave it.'
    return ""


def _report(findings: list[Findings], s: StepInput, lead: list[str], unanswered: list[str]) -> str:
    useful = [f for f in findings if f.topic != "error"]
    lines = [*lead, "## Executive summary", ""]
    lines += [f.headline for f in findings]
    lines += unanswered
    synthetic = any(f.synthetic for f in findings)
    if synthetic:
        lines += [
            "",
            "**Note: figures below are computed from SYNTHETIC data** (generated offline, not "
            "measured); treat them as an illustration of the method, not as facts about a real "
            "grid or company.",
        ]
    figures = [fig for f in useful for fig in f.figures]
    if figures:
        lines += ["", "## Key figures", ""]
        lines += [f"- **{fig.label}**: {fig.text}" for fig in figures]
    dashboard = s.last("render_dashboard")
    if dashboard is not None:
        lines += ["", "## Dashboard", ""]
        if dashboard.ok:
            lines += ["```text", dashboard_text(dashboard.output).rstrip("\n"), "```"]
        else:
            lines.append(f"_The dashboard could not be rendered: {dashboard.error}_")
    chart = s.last("render_chart")
    if chart is not None:
        lines += ["", "## Chart", ""]
        if chart.ok:
            title = _chart_title(chart.output)
            lines.append(f"The chart *{title}* is attached to this report (SVG).")
        else:
            lines.append(f"_The chart could not be rendered: {chart.error}_")
    actions = _unique([a for f in useful for a in f.actions])
    # Data-quality advice (replace synthetic data) comes after the measures themselves.
    actions.sort(key=lambda a: a.startswith("Upload"))
    if actions:
        lines += ["", "## Action items", ""]
        lines += [f"{i}. {a}" for i, a in enumerate(actions, 1)]
    notes = _unique([n for f in findings for n in f.notes])
    lines += ["", "## Data provenance", ""]
    sources = {(src.name, src.synthetic): src for f in findings for src in f.sources}
    for src in sources.values():
        detail = f": {src.detail}" if src.detail else ""
        if src.synthetic and "synthetic" not in src.detail.lower():
            detail = f" (SYNTHETIC){detail}"
        elif src.kind == "upload":
            detail = f" (your uploaded data, used as provided){detail}"
        lines.append(f"- {src.name}{detail}")
    lines += [f"- {note}" for note in notes]
    if any(f.topic.startswith("grid") for f in findings):
        lines.append(
            f"- Grid data source configured: {_SOURCE_NAMES.get(s.grid_source, s.grid_source)}."
        )
    lines.append(
        "- Written by the offline engine (deterministic, no language model): every figure "
        "above is a tool result, rounded for display. No LLM tokens were used and there is "
        "no LLM cost; the run's usage gives its measured CPU time and an energy estimate."
    )
    return "\n".join(lines)


def _chart_title(output: Any) -> str:
    if isinstance(output, dict):
        return str(output.get("title") or output.get("chart_id") or "chart")
    return "chart"


def _plain_report(earlier: tuple[tuple[str, str], ...]) -> str:
    """No structured findings (earlier steps came from elsewhere): relay them faithfully."""
    lines = ["## Executive summary", ""]
    if not earlier:
        lines.append(
            "No earlier step produced findings for this question, so there are no figures to "
            "report."
        )
    for kind, text in earlier:
        lines += [f"### From the {kind} step", "", text.strip(), ""]
    lines += ["## Data provenance", "", "- As stated by the earlier steps above."]
    return "\n".join(lines)


def _unique(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
