"""Text dashboards (width, ASCII fallback) and charts (well-formed SVG with the series)."""

from __future__ import annotations

import asyncio
import base64
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.catalog import get_tool
from tools.catalog_types import ChartOutput, ToolContext, ToolError
from tools.grid.file import FileGridSource
from tools.grid.service import GRID_SOURCE_SERVICE
from tools.render.ascii import (
    Bar,
    Charset,
    Kpi,
    bar_lines,
    format_number,
    level_strip,
    sparkline,
    table_lines,
)
from tools.render.labels import SYNTHETIC_LABEL
from tools.render.tools import (
    ChartResult,
    DashboardInput,
    RenderChartInput,
    render_chart,
    render_dashboard,
)

CTX = ToolContext(now="2026-11-26T09:00:00Z")
SVG_NS = "{http://www.w3.org/2000/svg}"


def full_dashboard(width: int | None = None, charset: Charset | None = None) -> DashboardInput:
    return DashboardInput(
        title="Acme Ltd — carbon dashboard 2026",
        kpis=[
            Kpi(label="Total", value=181.11, unit="tCO2e"),
            Kpi(label="Scope 2 (location-based)", value=63.67, unit="tCO2e"),
            Kpi(label="Grid now", value="252", unit="gCO2/kWh"),
        ],
        bars=[Bar(label="natural_gas", value=66408), Bar(label="electricity", value=33204)],
        bar_unit="kgCO2e",
        sparkline=[1, 2, 3, 4, 5, 6, 7, 8],
        levels=["low", "low", "medium", "high"],
        table_columns=["month", "kgCO2e"],
        table_rows=[["2026-01", "12,345"], ["2026-02", "9,876"]],
        width=width,
        charset=charset,
    )


def test_dashboard_sections_and_default_width() -> None:
    result = render_dashboard(full_dashboard(), CTX)
    lines = result.text.splitlines()
    assert result.width == 80
    assert max(len(line) for line in lines) == 80
    assert lines[1] == "Acme Ltd — carbon dashboard 2026"
    assert any("181 tCO2e" in line for line in lines)
    assert "▁▂▃▄▅▆▇█" in result.text
    assert "░░▒█" in result.text
    bar_rows = [line for line in lines if line.startswith(("natural_gas", "electricity"))]
    gas, electricity = (row.count("█") for row in bar_rows)
    assert gas == 2 * electricity  # bars are proportional
    assert "66,408 kgCO2e" in bar_rows[0]


def test_ascii_mode_has_only_ascii() -> None:
    result = render_dashboard(full_dashboard(width=60, charset="ascii"), CTX)
    assert result.text.isascii()
    assert max(len(line) for line in result.text.splitlines()) <= 60
    assert "..o#" in result.text
    assert "Acme Ltd - carbon dashboard 2026" in result.text  # the em dash is folded to "-"


@settings(max_examples=40, deadline=None)
@given(
    st.text(min_size=1, max_size=120),
    st.lists(
        st.tuples(st.text(min_size=1, max_size=50), st.floats(-1e9, 1e9)), min_size=1, max_size=6
    ),
    st.integers(40, 200),
    st.sampled_from(get_args(Charset)),
)
def test_dashboards_never_exceed_the_width(
    title: str, bars: list[tuple[str, float]], width: int, charset: Charset
) -> None:
    text = render_dashboard(
        DashboardInput(
            title=title,
            kpis=[Kpi(label=label, value=value, unit="u") for label, value in bars],
            bars=[Bar(label=label, value=value) for label, value in bars],
            width=width,
            charset=charset,
        ),
        CTX,
    ).text
    assert all(len(line) <= width for line in text.splitlines())
    if charset == "ascii":
        assert text.isascii()


def test_building_blocks() -> None:
    assert format_number(1234567.8) == "1,234,568"
    assert format_number(12.345) == "12.3"
    assert format_number(0.01234) == "0.0123"
    assert sparkline([5, 5, 5], 10, "ascii") == "==="
    assert len(sparkline(list(range(200)), 50, "unicode")) == 50
    assert level_strip(["low", "high"], 80, "ascii") == [".#", ". low  o medium  # high"]
    with pytest.raises(ToolError, match="unknown level"):
        level_strip(["purple"], 80, "ascii")
    assert bar_lines([Bar(label="a", value=0)], 40, "ascii", None)[0].endswith(" 0")
    table = table_lines(["name", "value"], [["alpha", "1,200"], ["b", "3"]], 80, "ascii")
    assert table == ["name   value", "-----  -----", "alpha  1,200", "b          3"]
    with pytest.raises(ToolError, match="row 1 has 1 cells"):
        table_lines(["a", "b"], [["x"]], 80, "ascii")


def test_dashboard_input_errors() -> None:
    with pytest.raises(ToolError, match="at least one"):
        render_dashboard(DashboardInput(title="empty"), CTX)
    with pytest.raises(ToolError, match="charset"):
        render_dashboard(msgspec.structs.replace(full_dashboard(), charset="ebcdic"), CTX)
    with pytest.raises(ToolError, match="width"):
        render_dashboard(full_dashboard(width=20), CTX)


def ids(svg: str) -> set[str]:
    root = ET.fromstring(svg)  # noqa: S314  # our own renderer output, not untrusted input
    return {el.attrib["id"] for el in root.iter() if "id" in el.attrib}


async def test_grid_chart_is_well_formed_with_bands_series_and_units() -> None:
    result = await render_chart(
        RenderChartInput(
            kind="grid_intensity", region="all", start_date="2026-11-26", best_window_hours=3
        ),
        CTX,
    )
    assert isinstance(result, ChartOutput)
    root = ET.fromstring(result.svg)  # noqa: S314  # our own renderer output
    assert root.tag == f"{SVG_NS}svg"
    assert set(result.series) == {
        "band-low",
        "band-medium",
        "band-high",
        "series-actual",
        "series-forecast",
        "best-window",
    }
    assert set(result.series) <= ids(result.svg)
    assert "Carbon intensity (gCO2/kWh)" in result.svg
    assert result.unit == "gCO2/kWh"
    assert result.synthetic
    assert (
        result.title == "Grid carbon intensity, all-island (Ireland + Northern Ireland), 2026-11-26"
    )
    assert result.chart_id.startswith("chart-grid_intensity-")
    again = await render_chart(
        RenderChartInput(
            kind="grid_intensity", region="all", start_date="2026-11-26", best_window_hours=3
        ),
        CTX,
    )
    assert again.svg == result.svg  # deterministic output, stable chart ids
    payload = result.for_model()
    assert "svg" not in payload
    assert payload["series"] == list(result.series)


async def test_breakdown_and_trend_charts_with_png() -> None:
    breakdown = await render_chart(
        RenderChartInput(
            kind="footprint_breakdown",
            labels=["Scope 1", "Scope 2", "Scope 3"],
            values=[77.2, 63.7, 40.2],
            unit="tCO2e",
            include_png=True,
        ),
        CTX,
    )
    assert {"bar-0", "bar-1", "bar-2"} <= ids(breakdown.svg)
    assert "tCO2e" in breakdown.svg
    assert "Scope 2" in breakdown.svg
    assert breakdown.png_base64 is not None
    assert base64.b64decode(breakdown.png_base64).startswith(b"\x89PNG\r\n\x1a\n")
    assert not breakdown.synthetic
    trend = await render_chart(
        RenderChartInput(
            kind="trend", labels=["Jan", "Feb", "Mar", "Apr"], values=[1, 3, 5, 7], unit="kgCO2e"
        ),
        CTX,
    )
    assert {"series-values", "trend-line"} <= ids(trend.svg)
    assert "trend slope 2 kgCO2e per step, R² 1.00" in trend.notes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (msgspec.structs.replace(RenderChartInput(kind="trend"), kind="pie"), "unknown chart kind"),
        (RenderChartInput(kind="grid_intensity"), "need region and start_date"),
        (RenderChartInput(kind="trend", labels=["a"], values=[1, 2]), "same length"),
        (RenderChartInput(kind="footprint_breakdown"), "non-empty"),
    ],
)
async def test_chart_input_errors(args: RenderChartInput, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await render_chart(args, CTX)


async def test_concurrent_charts_render_off_the_loop_without_interfering() -> None:
    def args(values: list[float]) -> RenderChartInput:
        return RenderChartInput(
            kind="trend", labels=[str(i) for i in range(len(values))], values=values
        )

    inputs = [args([1, 2, 3]), args([5, 1, 4, 2]), args([9, 9, 1])]
    sequential = [(await render_chart(a, CTX)).svg for a in inputs]
    concurrent = await asyncio.gather(*(render_chart(a, CTX) for a in inputs))
    assert [c.svg for c in concurrent] == sequential


@pytest.mark.parametrize(
    ("start", "end", "axis", "zone_text"),
    [
        ("2026-11-26", "2026-11-26", "Time (GMT)", " GMT, mean"),
        ("2026-07-15", "2026-07-15", "Time (IST)", " IST ("),
        ("2026-03-28", "2026-03-30", "Time (GMT/IST)", "window 2026-03-"),
    ],
)
async def test_grid_chart_time_axis_is_local(
    start: str, end: str, axis: str, zone_text: str
) -> None:
    result = await render_chart(
        RenderChartInput(
            kind="grid_intensity",
            region="ie",
            start_date=start,
            end_date=end,
            best_window_hours=3,
        ),
        ToolContext(now="2027-01-01T00:00:00Z"),
    )
    assert isinstance(result, ChartResult)
    assert axis in result.svg
    (note,) = [n for n in result.notes if n.startswith("best 3 h window")]
    assert zone_text in note


# ---------------------------------------------------------------- synthetic-data labels


def _label_pixels(png_base64: str) -> int:
    """Pixels of the PNG drawn in the synthetic label's own colour (#b0003a)."""
    import io

    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(png_base64)), format="png")
    rgb = (pixels[:, :, :3] * 255).round().astype(int)
    close = (abs(rgb - (0xB0, 0x00, 0x3A)) <= 8).all(axis=2)
    return int(close.sum())


def _svg_texts(svg: str) -> dict[str, str]:
    """The SVG's elements with an id, mapped to the text drawn inside them."""
    root = ET.fromstring(svg)  # noqa: S314  # our own renderer output
    return {
        el.attrib["id"]: "".join(el.itertext()).strip() for el in root.iter() if "id" in el.attrib
    }


async def test_a_chart_of_synthetic_grid_data_says_so_inside_the_image() -> None:
    result = await render_chart(
        RenderChartInput(
            kind="grid_intensity", region="ie", start_date="2026-11-26", include_png=True
        ),
        CTX,
    )
    assert result.synthetic  # the default grid source generates its data
    texts = _svg_texts(result.svg)
    assert texts["synthetic-label"] == SYNTHETIC_LABEL
    assert texts["synthetic-watermark"] == SYNTHETIC_LABEL
    assert {"series-actual", "series-forecast"} <= texts.keys()  # forecast stays distinct
    assert result.png_base64 is not None
    png = base64.b64decode(result.png_base64)
    assert SYNTHETIC_LABEL.encode() in png  # and in the file's metadata (an iTXt chunk)
    assert _label_pixels(result.png_base64) > 100  # the red subtitle is drawn in the pixels


async def test_a_chart_of_measured_grid_data_has_no_synthetic_label(tmp_path: Path) -> None:
    grid = tmp_path / "grid.csv"
    start = datetime(2026, 11, 26, tzinfo=UTC)
    grid.write_text(
        "timestamp,value\n"
        + "".join(
            f"{(start + timedelta(minutes=30 * i)).isoformat()},{200 + i}\n" for i in range(48)
        )
    )
    ctx = ToolContext(
        now="2026-11-27T09:00:00Z",
        services={GRID_SOURCE_SERVICE: FileGridSource(str(grid))},
    )
    result = await render_chart(
        RenderChartInput(
            kind="grid_intensity", region="ie", start_date="2026-11-26", include_png=True
        ),
        ctx,
    )
    assert not result.synthetic
    assert "series-actual" in _svg_texts(result.svg)
    assert SYNTHETIC_LABEL not in result.svg
    assert "synthetic-label" not in result.svg
    assert result.png_base64 is not None
    assert _label_pixels(result.png_base64) == 0


@pytest.mark.parametrize("kind", ["footprint_breakdown", "trend"])
async def test_charts_of_given_values_are_labelled_when_the_caller_says_synthetic(
    kind: Literal["footprint_breakdown", "trend"],
) -> None:
    def chart(synthetic: bool | None) -> RenderChartInput:
        return RenderChartInput(
            kind=kind,
            labels=["Scope 1", "Scope 2", "Scope 3"],
            values=[77.2, 63.7, 40.2],
            include_png=True,
            synthetic=synthetic,
        )

    labelled = await render_chart(chart(True), CTX)
    assert labelled.synthetic
    assert labelled.for_model()["synthetic"] is True
    assert _svg_texts(labelled.svg)["synthetic-label"] == SYNTHETIC_LABEL
    assert labelled.png_base64 is not None
    assert _label_pixels(labelled.png_base64) > 100
    for measured in (await render_chart(chart(False), CTX), await render_chart(chart(None), CTX)):
        assert not measured.synthetic
        assert SYNTHETIC_LABEL not in measured.svg
        assert measured.png_base64 is not None
        assert _label_pixels(measured.png_base64) == 0


@pytest.mark.parametrize("charset", ["unicode", "ascii"])
def test_a_dashboard_of_synthetic_data_says_so_in_its_header(charset: Charset) -> None:
    labelled = render_dashboard(
        msgspec.structs.replace(full_dashboard(charset=charset), synthetic=True), CTX
    )
    rule = "═" if charset == "unicode" else "="
    lines = labelled.text.splitlines()
    label = SYNTHETIC_LABEL if charset == "unicode" else "SYNTHETIC data - not measured"
    assert lines[:4] == [rule * 80, lines[1], label, rule * 80]
    assert labelled.synthetic
    assert "SYNTHETIC" in labelled.summary()
    measured = render_dashboard(full_dashboard(charset=charset), CTX)
    assert "SYNTHETIC" not in measured.text
    assert measured.text.splitlines()[2] == rule * 80


def test_the_render_tool_schemas_tell_a_model_when_data_is_synthetic() -> None:
    for name in ("render_chart", "render_dashboard"):
        prop = get_tool(name).parameters["properties"]["synthetic"]
        assert "synthetic: true" in prop["description"]  # the marker results carry
        assert SYNTHETIC_LABEL in prop["description"]
        assert "synthetic" in prop["description"].lower()
    chart_prop = get_tool("render_chart").parameters["properties"]["synthetic"]
    assert "Ignored for grid_intensity" in chart_prop["description"]
