"""The tool catalog: the only way the orchestrator and the offline engine reach ``tools``.

Names are stable (prompts, tests and stored runs refer to them). Descriptions are written
for a language model: when to use the tool, what the inputs mean, and the units it answers in.
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

_REGIONS = (
    "region: 'ie' (Republic of Ireland), 'ni' (Northern Ireland), 'all' (all-island), "
    "'gb' (Great Britain)."
)
_LOCAL_TIME = (
    " Dates are the region's LOCAL calendar days (Europe/Dublin for ie/all, Europe/London "
    "for ni/gb; a day is 23 or 25 h when the clocks change). Output timestamps are UTC, each "
    "with a *_local twin (ISO 8601 with offset), and timezone names the zone; quote local "
    "times to the user."
)
_FOOTPRINT_SOURCES = (
    "Give exactly ONE input: records (activity records: date YYYY-MM or YYYY-MM-DD, category, "
    "quantity, unit, optional site/cost/region/supplier_factor), use_dataset=true (the "
    "user's uploaded activity table), or synthetic_profile (sector office|retail|"
    "manufacturing|hospitality|logistics, employees, sites, fleet_vehicles, seed, months, "
    "start_month YYYY-MM or null) for clearly labelled demo data."
)

CATALOG: tuple[ToolDefinition[Any, Any], ...] = (
    ToolDefinition(
        name="grid_intensity",
        description=(
            "Electricity grid carbon intensity (gCO2/kWh) for a region and an inclusive ISO "
            "date range (YYYY-MM-DD; resolve words like 'last week' to dates first). Returns "
            "a view sized to the span (<=6 days raw 15/30-min points, 7-21 days hourly means, "
            "22+ days daily means, plus per-month summaries beyond 31 days), the 33rd/66th "
            "percentile thresholds (their basis says whether forecasts were included), "
            "low/medium/high periods, min/max/mean, the trend, and forecast points kept "
            "separate from actuals (month summaries and level counts cover actuals; "
            "forecast_* fields the forecasts). " + _REGIONS + " Use it for 'how "
            "green was/is the grid'. Results say when the data is synthetic." + _LOCAL_TIME
        ),
        input_type=GridIntensityInput,
        fn=grid_intensity,
    ),
    ToolDefinition(
        name="grid_best_window",
        description=(
            "Find the cleanest contiguous window of duration_hours (e.g. 3 for a dishwasher, "
            "6 for car charging) in a day (date) or a range (start_date/end_date); with "
            "neither, the next 24 hours. Only windows from now on are considered when the "
            "range reaches the present. Optional earliest_hour/latest_hour (0-24, LOCAL hours "
            "of the region, e.g. 'after 6pm' is earliest_hour=18) bound the window; optional "
            "energy_kwh converts the saving to kgCO2. Returns the window (start/end in UTC plus "
            "start_local/end_local, mean gCO2/kWh), its level, and the saving versus starting "
            "now and versus the local day's mean (gCO2/kWh and %). " + _REGIONS + _LOCAL_TIME
        ),
        input_type=BestWindowInput,
        fn=grid_best_window,
    ),
    ToolDefinition(
        name="grid_compare",
        description=(
            "Compare mean grid carbon intensity (gCO2/kWh) of two ISO date ranges for one "
            "region, e.g. this month vs last month: both means/min/max, the difference "
            "(second minus first) and the % change. Means/min/max are of actual values; "
            "forecast values are reported apart (forecast_*), and a range with no actual "
            "values is summarised from its forecasts with basis='forecast'. "
            + _REGIONS
            + _LOCAL_TIME
        ),
        input_type=GridCompareInput,
        fn=grid_compare,
    ),
    ToolDefinition(
        name="emission_factors",
        description=(
            "List the emission factors in use (kgCO2e per unit, with unit, year, scope, GHG "
            "Protocol category and source publication: UK DESNZ/DEFRA, SEAI, or a config "
            "override). Optional category filter (substring, e.g. 'flight', 'gas'). Use it "
            "to cite factors or to learn the accepted categories and units."
        ),
        input_type=EmissionFactorsInput,
        fn=emission_factors,
    ),
    ToolDefinition(
        name="carbon_footprint",
        description=(
            "Estimate a carbon footprint in kgCO2e from activity data. "
            + _FOOTPRINT_SOURCES
            + " Categories include electricity (kWh), natural_gas (kWh or m3), heating_oil, "
            "lpg, diesel/petrol (litre), car_*/van_diesel (km), flight_* (passenger_km), "
            "rail, bus (passenger_km; plain km counts as one passenger), road_freight "
            "(tonne_km), waste_* (tonne), water_supply (m3), "
            "purchased_goods_spend (EUR). grid_region (default 'ie') sets the location-based "
            "scope 2 factor for electricity without its own region. Returns totals by scope, "
            "category, month and site, and every line with its factor and source."
        ),
        input_type=CarbonFootprintInput,
        fn=carbon_footprint,
    ),
    ToolDefinition(
        name="synthetic_business_data",
        description=(
            "Generate deterministic SYNTHETIC business data for demos when the user has no "
            "data: monthly activity records per site (electricity, gas, fuel, flights, "
            "freight, waste, water) and monthly sales (revenue EUR, units, orders) with "
            "seasonality, trend, noise and a few planted anomalies. Same seed gives identical "
            "data. sector: office|retail|manufacturing|hospitality|logistics; start_month "
            "YYYY-MM or null (the months before now). Always tell the user it is synthetic."
        ),
        input_type=SyntheticBusinessInput,
        fn=synthetic_business_data,
    ),
    ToolDefinition(
        name="analyze_table",
        description=(
            "Statistics on numbers: use_dataset=true (the uploaded table; value_column, "
            "date_column, label_column, filter_column/filter_value pick the data), series "
            "(list of {value, date or null, label or null}) or records (activity records, "
            "same columns as carbon_footprint; filter by category to keep one unit). Returns "
            "count/total/mean/median/std/quartiles, monthly totals with month-over-month and "
            "year-over-year %, a "
            "linear trend (slope per month, R²), anomalies (robust z-score > 3.5 or outside "
            "the 1.5 x IQR fences), Pareto contributors by label, and intensity ratios when "
            "revenue_eur, employees or units are given (total divided by each)."
        ),
        input_type=AnalyzeTableInput,
        fn=analyze_table,
    ),
    ToolDefinition(
        name="reduction_scenarios",
        description=(
            "Estimate kgCO2e savings of reduction measures against a footprint. "
            + _FOOTPRINT_SOURCES
            + " Levers (percentages 0-100, null to skip): shift_electricity_pct moves that "
            "share of electricity into each day's cleanest shift_window_hours (default 4) "
            "using the last 7 days of grid data for grid_region; fleet_switch_pct switches "
            "that share of fleet fuel/vehicle-km to fleet_target 'electric' (default) or "
            "'hvo'; cut_flights_pct cuts flights. Returns each saving in kgCO2e and % of "
            "the baseline, with assumptions."
        ),
        input_type=ReductionScenariosInput,
        fn=reduction_scenarios,
    ),
    ToolDefinition(
        name="render_dashboard",
        description=(
            "Render a plain-text dashboard for the report (a code block): title, KPI tiles "
            "(label, value, unit), horizontal bars (label, value; bar_unit), a sparkline of "
            "numbers, a low/medium/high level strip (e.g. from grid_intensity periods), and an "
            "aligned table (table_columns, table_rows of strings). width defaults to 80 "
            "columns; charset 'unicode' (default) or 'ascii'. Only show numbers that tools "
            "computed. Set synthetic=true when any of them comes from synthetic data (a tool "
            "result marked synthetic): the header then says the data is not measured."
        ),
        input_type=DashboardInput,
        fn=render_dashboard,
    ),
    ToolDefinition(
        name="render_chart",
        description=(
            "Render a chart (SVG, attached to the report). kind 'grid_intensity': give "
            "region, start_date (end_date optional) and optionally best_window_hours; the "
            "tool fetches the data itself and draws gCO2/kWh with low/medium/high bands, "
            "forecasts dashed and the best window shaded. kind 'footprint_breakdown': labels "
            "and values (unit default kgCO2e), e.g. by scope or category. kind 'trend': "
            "ordered labels (e.g. months) and values with a fitted trend line. Set "
            "include_png=true to also get a PNG. For footprint_breakdown and trend set "
            "synthetic=true when the values come from synthetic data (a tool result marked "
            "synthetic): the chart is then labelled as not measured."
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
