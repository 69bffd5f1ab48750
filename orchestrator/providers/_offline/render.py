"""Arguments for the render tools (dashboard and chart) built from findings."""

from __future__ import annotations

from typing import Any

from orchestrator.providers._offline.findings import Findings
from orchestrator.providers._offline.intent import Understanding
from orchestrator.providers._offline.turns import Call, StepInput

__all__ = ["chart_call", "dashboard_call", "dashboard_text"]


def dashboard_call(s: StepInput, u: Understanding, findings: list[Findings]) -> Call:
    kpis = [
        {"label": fig.label, "value": fig.value, "unit": fig.unit}
        for f in findings
        for fig in f.figures
        if fig.value is not None
    ][:6]
    first = next((f for f in findings if f.bars), None)
    return s.call(
        "render_dashboard",
        title=u.question[:60],
        kpis=kpis,
        bars=[{"label": b.label, "value": b.value} for b in first.bars] if first else [],
    )


def chart_call(s: StepInput, args: dict[str, Any]) -> Call:
    return s.call("render_chart", **args)


def dashboard_text(output: Any) -> str:
    if isinstance(output, dict):
        return str(output.get("text") or output.get("ascii") or "")
    return str(output)
