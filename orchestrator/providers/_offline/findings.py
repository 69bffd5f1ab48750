"""Findings: what a carbon or analysis step hands to the report step.

A step's text output is readable Markdown (headline, figures, caveats, sources) followed by
the same findings as a hidden machine-readable block (see ``turns.encode_facts``), so the
offline report step can build its dashboard and chart without re-parsing prose.
"""

from __future__ import annotations

from typing import Any

import msgspec

from orchestrator.providers._offline.turns import decode_facts, encode_facts

__all__ = ["Bar", "Figure", "Findings", "Source", "findings_from_outputs", "render_step_text"]


class Figure(msgspec.Struct, frozen=True):
    """One key figure: the label, the formatted text and the raw number behind it."""

    label: str
    text: str
    value: float | None = None
    unit: str = ""


class Source(msgspec.Struct, frozen=True):
    name: str
    kind: str
    synthetic: bool
    detail: str = ""


class Bar(msgspec.Struct, frozen=True):
    label: str
    value: float


class Findings(msgspec.Struct, kw_only=True):
    topic: str
    title: str
    headline: str
    figures: list[Figure] = msgspec.field(default_factory=list)
    bars_title: str = ""
    bars_unit: str = ""
    bars: list[Bar] = msgspec.field(default_factory=list)
    levels: list[str] = msgspec.field(default_factory=list)  # low/medium/high strip, in order
    levels_label: str = ""
    chart: dict[str, Any] | None = None  # arguments for render_chart, when a chart fits
    series: list[Bar] = msgspec.field(default_factory=list)  # a monthly series to analyse
    series_name: str = ""
    actions: list[str] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)
    sources: list[Source] = msgspec.field(default_factory=list)
    synthetic: bool = False


def render_step_text(findings: list[Findings]) -> str:
    """The step's visible answer plus the hidden facts block for the report step."""
    parts: list[str] = []
    for f in findings:
        lines = [f"### {f.title}", "", f.headline, ""]
        lines += [f"- {fig.label}: {fig.text}" for fig in f.figures]
        if f.notes:
            lines.append("")
            lines += [f"_Note: {note}_" for note in f.notes]
        if f.sources:
            lines.append("")
            lines.append(
                "Sources: "
                + "; ".join(f"{s.name}{' (SYNTHETIC)' if s.synthetic else ''}" for s in f.sources)
            )
        parts.append("\n".join(lines).rstrip())
    facts = {"findings": [msgspec.to_builtins(f) for f in findings]}
    return "\n\n".join(parts) + "\n\n" + encode_facts(facts)


_findings_decoder = msgspec.json.Decoder(list[Findings])


def findings_from_outputs(outputs: list[tuple[str, str]]) -> list[Findings]:
    """Findings of earlier steps, in step order (blocks that do not validate are ignored)."""
    out: list[Findings] = []
    for _kind, text in outputs:
        for facts in decode_facts(text):
            raw = facts.get("findings")
            try:
                out.extend(_findings_decoder.decode(msgspec.json.encode(raw)))
            except msgspec.ValidationError:
                continue
    return out
