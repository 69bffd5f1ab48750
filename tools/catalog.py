"""The tool catalog: the only way the orchestrator and the offline engine reach ``tools``.

Names are stable (prompts, tests and stored runs refer to them). Descriptions are written
for a language model and re-read on every call that offers the tool, so they are short: what
the tool is for, what the inputs mean where the schema cannot say it, and the units it answers
in. Every bound a tool enforces is in its input schema, not in prose.
"""

from __future__ import annotations

from typing import Any

from tools.analysis.scenarios import ReductionScenariosInput, reduction_scenarios
from tools.analysis.tools import AnalyzeTableInput, analyze_table
from tools.catalog_types import ToolDefinition, ToolError
from tools.footprint.tools import (
    CarbonFootprintInput,
    EmissionFactorsInput,
    carbon_footprint,
    emission_factors,
)
from tools.grid.tools import (
    BestWindowInput,
    GridCompareInput,
    GridIntensityInput,
    grid_best_window,
    grid_compare,
    grid_intensity,
)
from tools.render.tools import DashboardInput, RenderChartInput, render_chart, render_dashboard
from tools.synthetic.tools import SyntheticBusinessInput, synthetic_business_data

__all__ = ["CATALOG", "TOOL_NAMES", "get_tool"]

# Written for a language model, as short as they can be: what the tool is for, what its
# inputs mean where the schema cannot say it, and what it answers in. Bounds and enums are in
# the input schemas (msgspec ``Meta``), not repeated here.
_LOCAL = " Dates/hours are the region's LOCAL time; results give UTC plus *_local twins."
_SOURCES = (
    " Give ONE of: records (activity rows), use_dataset=true (the upload), or "
    "synthetic_profile (labelled demo data)."
)

CATALOG: tuple[ToolDefinition[Any, Any], ...] = (
    ToolDefinition(
        name="grid_intensity",
        description=(
            "Grid carbon intensity (gCO2/kWh) of a region over inclusive ISO dates "
            "(YYYY-MM-DD): min/max/mean, trend, low/medium/high thresholds and periods, "
            "day/week/month summaries; forecasts kept apart from actuals. Says when data "
            "is synthetic." + _LOCAL
        ),
        input_type=GridIntensityInput,
        fn=grid_intensity,
    ),
    ToolDefinition(
        name="grid_best_window",
        description=(
            "Cleanest contiguous window of duration_hours in a day (date) or range "
            "(start_date/end_date); neither: the next 24 h, from now on. earliest_hour/"
            "latest_hour bound it (after 6pm: earliest_hour=18); energy_kwh gives the "
            "saving in kgCO2. Returns the window, its level and savings vs now and the "
            "day's mean." + _LOCAL
        ),
        input_type=BestWindowInput,
        fn=grid_best_window,
    ),
    ToolDefinition(
        name="grid_compare",
        description=(
            "Compare mean grid intensity (gCO2/kWh) of two ISO date ranges of one region: "
            "means/min/max of actuals, difference (second minus first) and % change; "
            "forecasts apart (basis='forecast' when a range has no actuals)." + _LOCAL
        ),
        input_type=GridCompareInput,
        fn=grid_compare,
    ),
    ToolDefinition(
        name="emission_factors",
        description=(
            "Emission factors in use (kgCO2e per unit, year, scope, source: DESNZ/DEFRA, "
            "SEAI or config); optional category substring filter. For citing factors or "
            "learning the accepted categories and units."
        ),
        input_type=EmissionFactorsInput,
        fn=emission_factors,
    ),
    ToolDefinition(
        name="carbon_footprint",
        description=(
            "Carbon footprint in kgCO2e from activity data." + _SOURCES + " Categories: "
            "electricity, natural_gas, heating_oil, lpg, diesel, petrol, car_*, van_diesel, "
            "flight_*, rail, bus, road_freight, waste_*, water_supply, purchased_goods_spend "
            "(see emission_factors for units). grid_region (default ie) prices electricity. "
            "Returns totals by scope, category, month and site."
        ),
        input_type=CarbonFootprintInput,
        fn=carbon_footprint,
    ),
    ToolDefinition(
        name="synthetic_business_data",
        description=(
            "Deterministic SYNTHETIC demo data when the user has none: monthly activity "
            "records per site and monthly sales, with seasonality, trend and planted "
            "anomalies; same seed, same data; start_month null: the months before now. "
            "Always say it is synthetic."
        ),
        input_type=SyntheticBusinessInput,
        fn=synthetic_business_data,
    ),
    ToolDefinition(
        name="analyze_table",
        description=(
            "Statistics of one of: use_dataset=true (the upload; *_column and filter_* pick "
            "the data), series, or records (filter by category to keep one unit). Returns "
            "descriptive stats, monthly totals with MoM/YoY %, linear trend (slope/month, "
            "R²), anomalies, Pareto contributors, and per-revenue/employee/unit ratios "
            "when given."
        ),
        input_type=AnalyzeTableInput,
        fn=analyze_table,
    ),
    ToolDefinition(
        name="reduction_scenarios",
        description=(
            "kgCO2e savings of reduction measures against a footprint." + _SOURCES + " Levers "
            "(%, null to skip): shift_electricity_pct into each day's cleanest "
            "shift_window_hours (default 4) of the last 7 days' grid; fleet_switch_pct to "
            "fleet_target (default electric); cut_flights_pct. Returns each saving in kgCO2e "
            "and % of the baseline."
        ),
        input_type=ReductionScenariosInput,
        fn=reduction_scenarios,
    ),
    ToolDefinition(
        name="render_dashboard",
        description=(
            "Plain-text dashboard for the report: KPI tiles, bars, sparkline, a "
            "low/medium/high strip and a table; give at least one. Only numbers tools "
            "computed. width defaults to 80, charset to unicode."
        ),
        input_type=DashboardInput,
        fn=render_dashboard,
    ),
    ToolDefinition(
        name="render_chart",
        description=(
            "SVG chart attached to the report. kind grid_intensity: region, start_date "
            "(end_date, best_window_hours optional); the tool fetches the data. "
            "footprint_breakdown (labels, values, unit default kgCO2e) or trend (ordered "
            "labels, values). include_png=true adds a PNG."
        ),
        input_type=RenderChartInput,
        fn=render_chart,
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(tool.name for tool in CATALOG)
_BY_NAME = {tool.name: tool for tool in CATALOG}


def get_tool(name: str) -> ToolDefinition[Any, Any]:
    """The tool called ``name``; ToolError (listing the names) when there is none."""
    tool = _BY_NAME.get(name)
    if tool is None:
        raise ToolError(f"unknown tool {name!r}; available: {', '.join(TOOL_NAMES)}")
    return tool
