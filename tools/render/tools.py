"""The rendering tools the model calls: ``render_dashboard`` (text) and ``render_chart`` (SVG).

Both label renderings of synthetic data inside the rendering itself (see
:mod:`tools.render.labels`). A ``grid_intensity`` chart knows its provenance (it fetches the
data); for numbers handed in by the caller only the caller knows, so both inputs have a
``synthetic`` field whose description tells a model when to set it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

import msgspec

from tools.catalog_types import DataSource, ToolContext, ToolError
from tools.clock import now_from_context, parse_date
from tools.cpu import run_cpu_bound
from tools.grid.analysis import Level, Window, best_window
from tools.grid.model import GridSeries, Region, check_region
from tools.grid.service import fetch_range, source_from_context
from tools.grid.tools import GridIntensityResult, intensity_view
from tools.grid.zones import local_span, region_zone
from tools.numeric import linear_fit
from tools.render.ascii import Bar, Charset, Kpi, render_dashboard_text
from tools.render.charts import ImageFormat, breakdown_chart, grid_chart, trend_chart
from tools.render.executor import renderer_from_context
from tools.render.labels import SYNTHETIC_LABEL

__all__ = [
    "ChartResult",
    "DashboardInput",
    "DashboardResult",
    "RenderChartInput",
    "render_chart",
    "render_dashboard",
]

ChartKind = Literal["grid_intensity", "footprint_breakdown", "trend"]
# What a model reads in the tools' JSON schemas: when to set ``synthetic``.
_SYNTHETIC_DASHBOARD = (
    "true if any number shown comes from data marked synthetic: true; the header then says "
    f"'{SYNTHETIC_LABEL}'"
)
_SYNTHETIC_CHART = (
    "true if the values come from data marked synthetic: true; the image then says "
    f"'{SYNTHETIC_LABEL}'. Ignored for grid_intensity (labelled by the tool)"
)
_CHART_KINDS: tuple[ChartKind, ...] = get_args(ChartKind)


class DashboardInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kpis: list[Kpi] | None = None
    bars: list[Bar] | None = None
    bar_unit: str | None = None
    sparkline: list[float] | None = None
    sparkline_label: str | None = None
    levels: list[Level] | None = None
    levels_label: str | None = None
    table_columns: list[str] | None = None
    table_rows: list[list[str]] | None = None
    width: Annotated[int, msgspec.Meta(ge=40, le=200)] | None = None
    charset: Charset | None = None
    synthetic: Annotated[bool | None, msgspec.Meta(description=_SYNTHETIC_DASHBOARD)] = None


class DashboardResult(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    width: int
    charset: str
    synthetic: bool = False  # the header carries the synthetic-data label

    def summary(self) -> str:
        tag = " (SYNTHETIC data)" if self.synthetic else ""
        return f"Text dashboard{tag}, {len(self.text.splitlines())} lines x {self.width} columns"

    def data_sources(self) -> Sequence[DataSource]:
        return ()


def render_dashboard(args: DashboardInput, ctx: ToolContext) -> DashboardResult:
    charset_name = (args.charset or "unicode").strip().lower()
    if charset_name not in ("unicode", "ascii"):
        raise ToolError("charset must be 'unicode' or 'ascii'")
    charset: Charset = "ascii" if charset_name == "ascii" else "unicode"
    width = args.width or 80
    if not any((args.kpis, args.bars, args.sparkline, args.levels, args.table_columns)):
        raise ToolError("give at least one of kpis, bars, sparkline, levels or table_columns")
    text = render_dashboard_text(
        title=args.title,
        kpis=args.kpis or (),
        bars=args.bars or (),
        bar_unit=args.bar_unit,
        sparkline_values=args.sparkline or (),
        sparkline_label=args.sparkline_label,
        levels=args.levels or (),
        levels_label=args.levels_label,
        table_columns=args.table_columns or (),
        table_rows=args.table_rows or (),
        width=width,
        charset=charset,
        synthetic=bool(args.synthetic),
    )
    return DashboardResult(text=text, width=width, charset=charset, synthetic=bool(args.synthetic))


class RenderChartInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: ChartKind
    title: str | None = None
    region: Region | None = None
    start_date: str | None = None
    end_date: str | None = None
    best_window_hours: float | None = None
    labels: Annotated[list[str], msgspec.Meta(max_length=500)] | None = None
    values: Annotated[list[float], msgspec.Meta(max_length=500)] | None = None
    unit: str | None = None
    include_png: bool | None = None
    synthetic: Annotated[bool | None, msgspec.Meta(description=_SYNTHETIC_CHART)] = None


class ChartResult(msgspec.Struct, frozen=True, kw_only=True):
    """A chart (implements ChartOutput): SVG text, optional PNG, and what it shows."""

    chart_id: str
    title: str
    kind: str
    unit: str
    series: tuple[str, ...]  # the SVG ids of the plotted series
    svg: str
    png_base64: str | None
    notes: tuple[str, ...]
    synthetic: bool
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        tag = " (SYNTHETIC data)" if self.synthetic else ""
        return f"Chart {self.chart_id}: {self.title}{tag} ({self.unit})"

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources

    def for_model(self) -> dict[str, Any]:
        """The model gets what the chart shows, never the SVG/PNG bytes."""
        return {
            "chart_id": self.chart_id,
            "title": self.title,
            "kind": self.kind,
            "unit": self.unit,
            "series": list(self.series),
            "notes": list(self.notes),
            "synthetic": self.synthetic,
            "attached": "the chart is attached to the report; refer to it by its title",
        }


def _labelled(args: RenderChartInput) -> tuple[list[str], list[float]]:
    labels, values = args.labels or [], args.values or []
    if not labels or len(labels) != len(values):
        raise ToolError("labels and values must be non-empty lists of the same length")
    if len(values) > 500:
        raise ToolError("at most 500 values per chart")
    return labels, values


def _grid_view(
    series: GridSeries, window_hours: float | None
) -> tuple[GridIntensityResult, Window | None]:
    """The chart's banded view of ``series`` and, when asked for, its best window."""
    view = intensity_view(series)
    if not window_hours:
        return view, None
    step = timedelta(minutes=series.step_minutes)
    zone = region_zone(series.region)
    return view, best_window(series.points, timedelta(hours=window_hours), step, zone)


async def render_chart(args: RenderChartInput, ctx: ToolContext) -> ChartResult:
    kind = args.kind.strip().lower()
    if kind not in _CHART_KINDS:
        raise ToolError(f"unknown chart kind {args.kind!r}; use one of {', '.join(_CHART_KINDS)}")
    formats: list[ImageFormat] = ["svg", "png"] if args.include_png else ["svg"]
    renderer = renderer_from_context(ctx)  # off the event loop: a process, or a thread
    images: dict[str, bytes] = {}
    notes: list[str] = []
    sources: tuple[DataSource, ...] = ()
    if kind == "grid_intensity":
        if args.region is None or args.start_date is None:
            raise ToolError("grid_intensity charts need region and start_date (end_date optional)")
        region = check_region(args.region)
        start = parse_date(args.start_date, "start_date")
        end = parse_date(args.end_date, "end_date") if args.end_date else start
        series = await fetch_range(
            source_from_context(ctx), region, start, end, now_from_context(ctx)
        )
        # The view and the window are milliseconds of pure Python per chart: on the bounded
        # CPU executor, so runs asking for charts together do not stall the event loop.
        view, window = await run_cpu_bound(_grid_view, series, args.best_window_hours)
        synthetic = any(source.synthetic for source in view.sources)
        zone = region_zone(region)
        if args.best_window_hours and window is not None:
            notes.append(
                f"best {args.best_window_hours:g} h window "
                f"{local_span(window.start, window.end, zone)}, "
                f"mean {window.mean:.0f} gCO2/kWh"
            )
        period = str(start) if start == end else f"{start}..{end}"
        title = args.title or f"Grid carbon intensity, {view.region_name}, {period}"
        unit = "gCO2/kWh"
        notes.append(f"bands: low <= {view.thresholds.p33:g}, high > {view.thresholds.p66:g}")
        series_ids = ["band-low", "band-medium", "band-high"]
        series_ids += ["series-actual"] if view.points else []
        series_ids += ["series-forecast"] if view.forecast_points else []
        series_ids += ["best-window"] if window is not None else []
        for fmt in formats:
            images[fmt] = await renderer.render(
                grid_chart,
                title=title,
                actual=view.points,
                forecast=view.forecast_points,
                cuts=view.thresholds,
                window=window,
                fmt=fmt,
                zone=zone,
                synthetic=synthetic,
            )
        sources = view.sources
    elif kind == "footprint_breakdown":
        labels, values = _labelled(args)
        synthetic = bool(args.synthetic)
        unit = args.unit or "kgCO2e"
        title = args.title or "Footprint breakdown"
        series_ids = [f"bar-{i}" for i in range(len(values))]
        for fmt in formats:
            images[fmt] = await renderer.render(
                breakdown_chart,
                title=title,
                labels=labels,
                values=values,
                unit=unit,
                fmt=fmt,
                synthetic=synthetic,
            )
    else:
        labels, values = _labelled(args)
        synthetic = bool(args.synthetic)
        unit = args.unit or "value"
        title = args.title or "Trend"
        fit = linear_fit([float(i) for i in range(len(values))], values)
        fitted = [fit.slope * i + fit.intercept for i in range(len(values))]
        notes.append(f"trend slope {fit.slope:.4g} {unit} per step, R² {fit.r_squared:.2f}")
        series_ids = ["series-values", "trend-line"]
        for fmt in formats:
            images[fmt] = await renderer.render(
                trend_chart,
                title=title,
                labels=labels,
                values=values,
                unit=unit,
                fitted=fitted,
                fmt=fmt,
                synthetic=synthetic,
            )
    svg = images["svg"].decode()
    png = images.get("png")
    digest = hashlib.sha256(svg.encode()).hexdigest()[:12]
    return ChartResult(
        chart_id=f"chart-{kind}-{digest}",
        title=title,
        kind=kind,
        unit=unit,
        series=tuple(series_ids),
        svg=svg,
        png_base64=None if png is None else base64.b64encode(png).decode(),
        notes=tuple(notes),
        synthetic=synthetic,
        sources=sources,
    )
