"""Every bound a tool enforces at run time is also in the JSON schema a model is offered.

For each case: the tool itself refuses the out-of-bound value (``ToolError``, called with a
struct built directly, which msgspec does not validate), the schema states the bound (so a
model, or a grammar-constrained local server, never produces the value), and decoding the
model's arguments refuses it before the tool runs.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import msgspec
import pytest

from tools.analysis.scenarios import ReductionScenariosInput
from tools.analysis.tools import AnalyzeTableInput, SeriesPoint
from tools.catalog import CATALOG, get_tool
from tools.catalog_types import ToolContext, ToolError
from tools.grid.tools import BestWindowInput
from tools.render.ascii import Kpi
from tools.render.tools import DashboardInput, RenderChartInput
from tools.synthetic.tools import SyntheticBusinessInput

CTX = ToolContext(now="2026-12-06T18:00:00+00:00")
PROFILE: dict[str, Any] = {
    "sector": "office",
    "employees": 10,
    "sites": 1,
    "fleet_vehicles": 0,
    "seed": 1,
    "months": 3,
    "start_month": "2026-01",
}


def _run(tool: str, args: msgspec.Struct) -> Any:
    result = get_tool(tool).fn(args, CTX)
    if inspect.isawaitable(result):
        return asyncio.run(_awaited(result))
    return result


async def _awaited(value: Any) -> Any:
    return await value


def _prop(tool: str, prop: str) -> dict[str, Any]:
    schema: dict[str, Any] = get_tool(tool).parameters["properties"][prop]
    return schema


# (tool, property, schema keyword, bound, an out-of-bound struct for the tool)
CASES: list[tuple[str, str, str, float, msgspec.Struct]] = [
    (
        "render_dashboard",
        "width",
        "minimum",
        40,
        DashboardInput(title="t", kpis=[Kpi(label="a", value=1)], width=39),
    ),
    (
        "render_dashboard",
        "width",
        "maximum",
        200,
        DashboardInput(title="t", kpis=[Kpi(label="a", value=1)], width=201),
    ),
    (
        "grid_best_window",
        "duration_hours",
        "exclusiveMinimum",
        0,
        BestWindowInput(region="ie", duration_hours=0, date="2026-12-07"),
    ),
    (
        "grid_best_window",
        "duration_hours",
        "maximum",
        168,
        BestWindowInput(region="ie", duration_hours=169, date="2026-12-07"),
    ),
    (
        "grid_best_window",
        "earliest_hour",
        "minimum",
        0,
        BestWindowInput(region="ie", duration_hours=2, date="2026-12-07", earliest_hour=-1),
    ),
    (
        "grid_best_window",
        "latest_hour",
        "maximum",
        24,
        BestWindowInput(region="ie", duration_hours=2, date="2026-12-07", latest_hour=25),
    ),
    (
        "grid_best_window",
        "energy_kwh",
        "minimum",
        0,
        BestWindowInput(region="ie", duration_hours=2, date="2026-12-07", energy_kwh=-1),
    ),
    (
        "synthetic_business_data",
        "employees",
        "minimum",
        1,
        SyntheticBusinessInput(**{**PROFILE, "employees": 0}),
    ),
    (
        "synthetic_business_data",
        "sites",
        "maximum",
        50,
        SyntheticBusinessInput(**{**PROFILE, "sites": 51}),
    ),
    (
        "synthetic_business_data",
        "fleet_vehicles",
        "maximum",
        10_000,
        SyntheticBusinessInput(**{**PROFILE, "fleet_vehicles": 10_001}),
    ),
    (
        "synthetic_business_data",
        "months",
        "maximum",
        120,
        SyntheticBusinessInput(**{**PROFILE, "months": 121}),
    ),
    (
        "reduction_scenarios",
        "shift_electricity_pct",
        "maximum",
        100,
        ReductionScenariosInput(use_dataset=True, shift_electricity_pct=101),
    ),
    (
        "reduction_scenarios",
        "cut_flights_pct",
        "minimum",
        0,
        ReductionScenariosInput(use_dataset=True, cut_flights_pct=-5),
    ),
    (
        "analyze_table",
        "revenue_eur",
        "exclusiveMinimum",
        0,
        AnalyzeTableInput(series=[SeriesPoint(value=1.0), SeriesPoint(value=2.0)], revenue_eur=0),
    ),
    (
        "render_chart",
        "values",
        "maxItems",
        500,
        RenderChartInput(kind="trend", labels=["x"] * 501, values=[1.0] * 501),
    ),
]


# How the tools word a bound they refuse (not some other complaint about the arguments).
BOUND_ERROR = r"between|must be positive|at most 500|satisfy 0 <= earliest|non-negative"


@pytest.mark.parametrize(
    ("tool", "prop", "keyword", "bound", "args"),
    CASES,
    ids=[f"{c[0]}.{c[1]}.{c[2]}" for c in CASES],
)
def test_a_runtime_bound_is_in_the_schema_and_refused_at_decode(
    tool: str, prop: str, keyword: str, bound: float, args: msgspec.Struct
) -> None:
    with pytest.raises(ToolError, match=BOUND_ERROR):  # the tool enforces it ...
        _run(tool, args)
    schema = _prop(tool, prop)
    assert schema[keyword] == bound  # ... the schema says it ...
    raw = msgspec.json.encode(args)
    with pytest.raises(msgspec.ValidationError):  # ... and the arguments are refused
        msgspec.json.decode(raw, type=get_tool(tool).input_type)


def test_every_tool_schema_is_strict_and_every_description_short() -> None:
    for tool in CATALOG:
        assert tool.parameters["additionalProperties"] is False
        assert tool.parameters["required"] == list(tool.parameters["properties"])
        # Read on every call that offers the tool: a few sentences, no manual.
        assert len(tool.description) <= 460, tool.name


def test_a_nullable_plain_field_is_one_type_array() -> None:
    assert _prop("grid_best_window", "date") == {"type": ["string", "null"]}
    width = _prop("render_dashboard", "width")
    assert width == {"type": ["integer", "null"], "minimum": 40, "maximum": 200}
    charset = _prop("render_dashboard", "charset")  # an enum keeps its null branch apart
    assert charset["anyOf"][1] == {"type": "null"}
