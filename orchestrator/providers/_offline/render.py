"""Arguments for the render tools, built from the earlier steps' findings.

``render_dashboard`` gets the figures that carry a number (as KPI tiles), the first bar series
and, for grid questions, the low/medium/high strip; ``render_chart`` gets the chart the
findings asked for. Both tools format the numbers themselves, so the dashboard text is a tool
output like any other. Both calls set ``synthetic`` from the provenance of the findings they
draw, as a careful model would, so the renderings themselves say "not measured".
"""

from __future__ import annotations

from typing import Any

from orchestrator.providers._offline.findings import Findings
from orchestrator.providers._offline.turns import Call, StepInput

__all__ = ["MAX_KPIS", "chart_call", "dashboard_call", "dashboard_text"]

MAX_KPIS = 4
_TITLE_CHARS = 60


def _title(findings: list[Findings]) -> str:
    """All finding titles when they fit the dashboard's title line, else the first."""
    useful = list(dict.fromkeys(f.title for f in findings if f.topic != "error"))
    joined = " + ".join(useful)
    if len(joined) <= _TITLE_CHARS:
        return joined or "Sustainable City AI"
    return useful[0][:_TITLE_CHARS]


def dashboard_call(s: StepInput, findings: list[Findings]) -> Call:
    kpis = [
        {"label": fig.label[:24], "value": fig.value, "unit": fig.unit or None}
        for f in findings
        for fig in f.figures
        if fig.value is not None
    ][:MAX_KPIS]
    # Scenario savings say more than the baseline breakdown when both are present.
    with_bars = next((f for f in findings if f.bars and f.topic == "scenarios"), None)
    with_bars = with_bars or next((f for f in findings if f.bars), None)
    with_levels = next((f for f in findings if f.levels), None)
    values: dict[str, Any] = {
        "title": _title(findings),
        "kpis": kpis or None,
        "synthetic": any(f.synthetic for f in findings if f.topic != "error"),
    }
    if with_bars is not None:
        values["bars"] = [{"label": b.label[:24], "value": b.value} for b in with_bars.bars]
        values["bar_unit"] = with_bars.bars_unit or None
    if with_levels is not None:
        values["levels"] = with_levels.levels
        values["levels_label"] = with_levels.levels_label or None
    return s.call("render_dashboard", **values)


def chart_call(s: StepInput, args: dict[str, Any], findings: list[Findings]) -> Call:
    """The chart ``args`` of one of ``findings``, labelled synthetic when that finding is."""
    owner = next((f for f in findings if f.chart is args), None)
    synthetic = owner.synthetic if owner is not None else any(f.synthetic for f in findings)
    return s.call("render_chart", **{**args, "synthetic": synthetic})


def dashboard_text(output: Any) -> str:
    if isinstance(output, dict):
        return str(output.get("text") or "")
    return ""
