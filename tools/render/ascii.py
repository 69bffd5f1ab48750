"""Plain-text dashboards (the predecessor's report feature): KPI tiles, bar charts,
sparklines, aligned tables and a low/medium/high strip, never wider than ``width`` columns.
``charset="ascii"`` avoids every non-ASCII character for terminals without Unicode. A dashboard
of synthetic data says so in its header, under the title (:data:`SYNTHETIC_LABEL`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import msgspec

from tools.catalog_types import ToolError
from tools.render.labels import SYNTHETIC_LABEL

__all__ = [
    "Bar",
    "Charset",
    "Kpi",
    "bar_lines",
    "format_number",
    "kpi_lines",
    "level_strip",
    "render_dashboard_text",
    "sparkline",
    "table_lines",
]

Charset = Literal["unicode", "ascii"]
_SPARK = {"unicode": "▁▂▃▄▅▆▇█", "ascii": "_.-~=+*#"}
_LEVEL_CHARS = {
    "unicode": {"low": "░", "medium": "▒", "high": "█"},
    "ascii": {"low": ".", "medium": "o", "high": "#"},
}
_BOX = {
    "unicode": {"h": "─", "v": "│", "tl": "┌", "tr": "┐", "bl": "└", "br": "┘", "H": "═"},
    "ascii": {"h": "-", "v": "|", "tl": "+", "tr": "+", "bl": "+", "br": "+", "H": "="},
}
_FULL = {"unicode": "█", "ascii": "#"}
_EMPTY = {"unicode": "·", "ascii": "."}
_ELLIPSIS = {"unicode": "…", "ascii": "~"}


# Typographic characters with a faithful ASCII spelling; anything else becomes "?".
_ASCII_FOLD = str.maketrans(
    {
        "\u2014": "-",  # em dash
        "\u2013": "-",  # en dash
        "\u2212": "-",  # minus sign
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00b2": "2",
        "\u00b3": "3",
        "\u2082": "2",  # subscript two, as in CO2
        "\u20ac": "EUR",
        "\u00a3": "GBP",
        "\u00b0": "deg",
        "\u00d7": "x",
        "\u00b7": ".",
    }
)


class Kpi(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label: str
    value: float | str
    unit: str | None = None


class Bar(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label: str
    value: float


def format_number(value: float) -> str:
    """Readable magnitudes: thousands separators, fewer decimals for bigger numbers."""
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def _fit(text: str, width: int, charset: Charset) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - len(_ELLIPSIS[charset])] + _ELLIPSIS[charset]


def _clean(text: str, charset: Charset) -> str:
    """One line, and only ASCII in ascii mode (user text may contain anything)."""
    flat = " ".join(text.split())
    if charset == "ascii":
        return flat.translate(_ASCII_FOLD).encode("ascii", "replace").decode("ascii")
    return flat


def kpi_lines(kpis: Sequence[Kpi], width: int, charset: Charset) -> list[str]:
    """Boxed tiles, up to four per row, sharing the width evenly."""
    box = _BOX[charset]
    lines: list[str] = []
    per_row = min(4, max(1, width // 16))
    for row_start in range(0, len(kpis), per_row):
        row = kpis[row_start : row_start + per_row]
        tile = (width - (len(row) - 1)) // len(row)
        inner = tile - 4
        tops, labels, values, bottoms = [], [], [], []
        for kpi in row:
            value = kpi.value if isinstance(kpi.value, str) else format_number(kpi.value)
            shown = f"{value} {kpi.unit}" if kpi.unit else value
            tops.append(box["tl"] + box["h"] * (tile - 2) + box["tr"])
            labels.append(
                f"{box['v']} {_fit(_clean(kpi.label, charset), inner, charset):<{inner}} {box['v']}"
            )
            values.append(
                f"{box['v']} {_fit(_clean(shown, charset), inner, charset):<{inner}} {box['v']}"
            )
            bottoms.append(box["bl"] + box["h"] * (tile - 2) + box["br"])
        lines.extend(" ".join(parts) for parts in (tops, labels, values, bottoms))
    return lines


def bar_lines(bars: Sequence[Bar], width: int, charset: Charset, unit: str | None) -> list[str]:
    """Horizontal bars scaled to the largest absolute value, values right-aligned."""
    if not bars:
        return []
    values = [format_number(b.value) + (f" {unit}" if unit else "") for b in bars]
    value_width = max(len(_clean(v, charset)) for v in values)
    label_width = min(max(len(_clean(b.label, charset)) for b in bars), max(8, width // 3))
    bar_width = max(1, width - label_width - value_width - 2)
    peak = max(abs(b.value) for b in bars) or 1.0
    lines = []
    for bar, value in zip(bars, values, strict=True):
        filled = round(abs(bar.value) / peak * bar_width)
        track = _FULL[charset] * filled + _EMPTY[charset] * (bar_width - filled)
        label = _fit(_clean(bar.label, charset), label_width, charset)
        lines.append(f"{label:<{label_width}} {track} {_clean(value, charset):>{value_width}}")
    return lines


def sparkline(values: Sequence[float], width: int, charset: Charset) -> str:
    """One character per value (values are averaged into buckets when there are too many)."""
    if not values:
        return ""
    if len(values) > width:
        buckets = []
        for i in range(width):
            chunk = values[i * len(values) // width : (i + 1) * len(values) // width]
            buckets.append(math.fsum(chunk) / len(chunk))
        values = buckets
    ticks = _SPARK[charset]
    low, high = min(values), max(values)
    span = high - low
    if span == 0:
        return ticks[len(ticks) // 2] * len(values)
    return "".join(ticks[min(len(ticks) - 1, int((v - low) / span * len(ticks)))] for v in values)


def level_strip(levels: Sequence[str], width: int, charset: Charset) -> list[str]:
    """The low/medium/high timeline: one character per level, then a legend line."""
    chars = _LEVEL_CHARS[charset]
    for level in levels:
        if level not in chars:
            raise ToolError(f"unknown level {level!r}; use low, medium or high")
    strip = "".join(chars[level] for level in levels)
    out = [strip[i : i + width] for i in range(0, len(strip), width)] or [""]
    out.append(f"{chars['low']} low  {chars['medium']} medium  {chars['high']} high")
    return out


def table_lines(
    columns: Sequence[str], rows: Sequence[Sequence[str]], width: int, charset: Charset
) -> list[str]:
    """Aligned columns; numeric-looking cells right-aligned; over-wide columns truncated."""
    for index, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise ToolError(f"table row {index} has {len(row)} cells, expected {len(columns)}")
    cells = [[_clean(c, charset) for c in columns]] + [
        [_clean(c, charset) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    budget = width - 2 * (len(columns) - 1)
    while sum(widths) > budget and max(widths) > 4:
        widths[widths.index(max(widths))] -= 1

    def numeric(text: str) -> bool:
        return text.replace(",", "").replace(".", "", 1).lstrip("+-").isdigit()

    def render(row: list[str]) -> str:
        parts = []
        for text, size in zip(row, widths, strict=True):
            shown = _fit(text, size, charset)
            parts.append(f"{shown:>{size}}" if numeric(text) else f"{shown:<{size}}")
        return "  ".join(parts).rstrip()

    rule = "  ".join(_BOX[charset]["h"] * size for size in widths)
    return [render(cells[0]), rule] + [render(row) for row in cells[1:]]


def render_dashboard_text(
    *,
    title: str,
    kpis: Sequence[Kpi] = (),
    bars: Sequence[Bar] = (),
    bar_unit: str | None = None,
    sparkline_values: Sequence[float] = (),
    sparkline_label: str | None = None,
    levels: Sequence[str] = (),
    levels_label: str | None = None,
    table_columns: Sequence[str] = (),
    table_rows: Sequence[Sequence[str]] = (),
    width: int = 80,
    charset: Charset = "unicode",
    synthetic: bool = False,
) -> str:
    """Assemble the sections that were given, separated by blank lines; a dashboard of
    ``synthetic`` data carries the synthetic-data label in its header, under the title."""
    if not 40 <= width <= 200:
        raise ToolError("width must be between 40 and 200 columns")
    heavy = _BOX[charset]["H"]
    header = [_fit(_clean(title, charset), width, charset)]
    if synthetic:
        header.append(_clean(SYNTHETIC_LABEL, charset))  # 29 columns: always fits
    sections: list[list[str]] = [[heavy * width, *header, heavy * width]]
    if kpis:
        sections.append(kpi_lines(kpis, width, charset))
    if bars:
        sections.append(bar_lines(bars, width, charset, bar_unit))
    if sparkline_values:
        label = _clean(sparkline_label or "trend", charset)
        lo, hi = format_number(min(sparkline_values)), format_number(max(sparkline_values))
        head = _fit(f"{label} (min {lo}, max {hi})", width, charset)
        sections.append([head, sparkline(sparkline_values, width, charset)])
    if levels:
        head = _fit(_clean(levels_label or "grid intensity levels", charset), width, charset)
        sections.append([head, *level_strip(levels, width, charset)])
    if table_columns:
        sections.append(table_lines(table_columns, table_rows, width, charset))
    # Every section sizes itself to the width; clipping here is the guarantee, not the plan.
    lines = [_fit(line, width, charset) for section in sections for line in [*section, ""]]
    return "\n".join(lines).rstrip("\n") + "\n"
