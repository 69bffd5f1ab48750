"""The catalog contract the orchestrator relies on: names, strict schemas, decoding model
arguments, outputs that summarise themselves and stay small for the model."""

from __future__ import annotations

import inspect
import json
from typing import Any

import msgspec
import pytest

import tools
from tools.catalog import CATALOG, TOOL_NAMES, get_tool
from tools.catalog_types import (
    ToolContext,
    ToolError,
    ToolOutput,
    model_payload,
    strict_json_schema,
)

REQUIRED = {
    "grid_intensity",
    "grid_best_window",
    "grid_compare",
    "emission_factors",
    "carbon_footprint",
    "synthetic_business_data",
    "analyze_table",
    "reduction_scenarios",
    "render_dashboard",
    "render_chart",
}

PROFILE: dict[str, Any] = {
    "sector": "office",
    "employees": 80,
    "sites": 2,
    "fleet_vehicles": 3,
    "seed": 7,
    "months": 12,
    "start_month": None,
}

# What a model would send in strict mode: every property present, nulls for unused ones.
CALLS: dict[str, dict[str, Any]] = {
    "grid_intensity": {"region": "all", "start_date": "2026-10-01", "end_date": "2026-11-26"},
    "grid_best_window": {
        "region": "ie",
        "duration_hours": 3,
        "date": None,
        "start_date": None,
        "end_date": None,
        "earliest_hour": None,
        "latest_hour": None,
        "energy_kwh": 12.5,
    },
    "grid_compare": {
        "region": "gb",
        "first_start_date": "2026-09-01",
        "first_end_date": "2026-09-30",
        "second_start_date": "2026-10-01",
        "second_end_date": "2026-10-31",
    },
    "emission_factors": {"category": None},
    "carbon_footprint": {
        "records": None,
        "use_dataset": None,
        "synthetic_profile": PROFILE,
        "grid_region": "ie",
    },
    "synthetic_business_data": {**PROFILE, "months": 24},
    "analyze_table": {
        "use_dataset": None,
        "series": [
            {"value": float(v), "date": f"2026-{m:02d}", "label": None}
            for m, v in enumerate(range(10, 130, 10), 1)
        ],
        "records": None,
        "value_column": None,
        "date_column": None,
        "label_column": None,
        "filter_column": None,
        "filter_value": None,
        "value_name": "kWh",
        "revenue_eur": None,
        "employees": None,
        "units": None,
    },
    "reduction_scenarios": {
        "records": None,
        "use_dataset": None,
        "synthetic_profile": PROFILE,
        "grid_region": "all",
        "shift_electricity_pct": 30,
        "shift_window_hours": None,
        "fleet_switch_pct": 50,
        "fleet_target": "electric",
        "cut_flights_pct": 25,
    },
    "render_dashboard": {
        "title": "Demo",
        "kpis": [{"label": "Total", "value": 12.5, "unit": "tCO2e"}],
        "bars": None,
        "bar_unit": None,
        "sparkline": [1, 2, 3],
        "sparkline_label": None,
        "levels": None,
        "levels_label": None,
        "table_columns": None,
        "table_rows": None,
        "width": None,
        "charset": None,
    },
    "render_chart": {
        "kind": "grid_intensity",
        "title": None,
        "region": "ie",
        "start_date": "2026-11-25",
        "end_date": "2026-11-26",
        "best_window_hours": 2,
        "labels": None,
        "values": None,
        "unit": None,
        "include_png": None,
    },
}


def test_catalog_has_exactly_the_required_tools() -> None:
    assert set(TOOL_NAMES) == REQUIRED
    assert len(TOOL_NAMES) == len(CATALOG)
    assert tools.CATALOG is CATALOG
    assert get_tool("grid_compare").name == "grid_compare"
    with pytest.raises(ToolError, match="unknown tool 'nope'; available: grid_intensity"):
        get_tool("nope")


def assert_strict(node: Any, where: str) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, where
            assert sorted(node["required"]) == sorted(node["properties"]), where
        assert "$ref" not in node, where
        for key, value in node.items():
            assert_strict(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            assert_strict(value, f"{where}[{index}]")


@pytest.mark.parametrize("tool", CATALOG, ids=lambda t: t.name)
def test_schemas_are_strict_and_descriptions_say_when_to_use(tool: Any) -> None:
    assert_strict(tool.parameters, tool.name)
    assert len(tool.description) > 80
    json.dumps(tool.parameters)


def test_enums_reach_the_model() -> None:
    region = get_tool("grid_intensity").parameters["properties"]["region"]
    assert region == {"enum": ["all", "gb", "ie", "ni"], "type": "string"}
    kind = get_tool("render_chart").parameters["properties"]["kind"]
    assert kind == {"enum": ["footprint_breakdown", "grid_intensity", "trend"], "type": "string"}
    target = get_tool("reduction_scenarios").parameters["properties"]["fleet_target"]
    assert target == {"anyOf": [{"enum": ["electric", "hvo"], "type": "string"}, {"type": "null"}]}


def test_every_tool_has_a_strict_mode_example() -> None:
    assert set(CALLS) == REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
async def test_tools_run_from_model_json(name: str) -> None:
    tool = get_tool(name)
    args = msgspec.json.decode(json.dumps(CALLS[name]).encode(), type=tool.input_type)
    ctx = ToolContext(now="2026-11-26T09:00:00Z")
    result = tool.fn(args, ctx)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, ToolOutput)
    assert result.summary()
    assert "\n" not in result.summary()
    payload = model_payload(result)
    encoded = json.dumps(payload, default=str)
    assert len(encoded) < 60_000, f"{name} sends {len(encoded)} characters to the model"
    msgspec.json.encode(result)  # the full result is JSON-encodable for events/persistence


def test_model_arguments_are_validated_by_the_schema_types() -> None:
    tool = get_tool("grid_intensity")
    with pytest.raises(msgspec.ValidationError, match="region"):
        msgspec.json.decode(
            b'{"region": "fr", "start_date": "x", "end_date": "y"}', type=tool.input_type
        )
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(
            b'{"region": "ie", "start_date": "x", "end_date": "y", "extra": 1}',
            type=tool.input_type,
        )


def test_fields_named_like_schema_keywords_survive_the_strict_schema() -> None:
    """A field called ``title`` or ``default`` is a property, not an annotation to strip."""

    class Labelled(msgspec.Struct):
        title: str
        default: int | None = None

    schema = strict_json_schema(Labelled)
    assert schema["properties"] == {
        "title": {"type": "string"},
        "default": {"type": ["integer", "null"]},
    }
    assert schema["required"] == ["title", "default"]
    for name in ("render_dashboard", "render_chart"):
        parameters = get_tool(name).parameters
        assert "title" in parameters["properties"], name
        assert sorted(parameters["required"]) == sorted(parameters["properties"]), name
