"""Footprint estimator: totals recomputed by hand, unit conversion, factors and overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.catalog_types import Dataset, ToolContext, ToolError
from tools.footprint import (
    ActivityRecord,
    FactorTable,
    UnitError,
    convert,
    default_factor_table,
    estimate_footprint,
    load_factor_table,
)
from tools.footprint.tools import (
    CarbonFootprintInput,
    EmissionFactorsInput,
    carbon_footprint,
    emission_factors,
)
from tools.footprint.units import DIMENSIONS
from tools.synthetic.business import BusinessProfile

CTX = ToolContext(now="2026-11-26T09:00:00Z")

RECORDS = [
    ActivityRecord(
        date="2026-01-15", category="electricity", quantity=1000, unit="kWh", site="Dublin"
    ),
    ActivityRecord(
        date="2026-01-20", category="natural_gas", quantity=100, unit="m3", site="Dublin"
    ),
    ActivityRecord(date="2026-02-03", category="gas", quantity=1, unit="MWh", site="Cork"),
    ActivityRecord(date="2026-02-10", category="diesel", quantity=10, unit="gallons", site="Cork"),
    ActivityRecord(
        date="2026-02", category="flight_long_haul_economy", quantity=2000, unit="pkm", site=None
    ),
    ActivityRecord(
        date="2026-02-28", category="waste_landfill", quantity=500, unit="kg", site="Cork"
    ),
    ActivityRecord(
        date="2026-02-28",
        category="electricity",
        quantity=2,
        unit="MWh",
        site="Belfast",
        region="ni",
        supplier_factor=0.05,
    ),
]


def test_totals_recomputed_by_hand() -> None:
    lines, totals = estimate_footprint(RECORDS, default_factor_table(), "ie")
    electricity_ie = 1000 * 0.2548  # SEAI 2023
    gas_m3 = 100 * 2.04542
    gas_mwh = 1000 * 0.18293
    diesel = 10 * 4.54609 * 2.51233  # UK gallons -> litres
    flight = 2000 * 0.14787
    waste = 0.5 * 467.04  # 500 kg = 0.5 tonne
    electricity_ni = 2000 * 0.20707
    assert [line.kgco2e for line in lines] == pytest.approx(
        [electricity_ie, gas_m3, gas_mwh, diesel, flight, waste, electricity_ni], abs=0.001
    )
    assert totals.by_scope["scope_1"] == pytest.approx(gas_m3 + gas_mwh + diesel, abs=0.001)
    assert totals.by_scope["scope_2"] == pytest.approx(electricity_ie + electricity_ni, abs=0.001)
    assert totals.by_scope["scope_3"] == pytest.approx(flight + waste, abs=0.001)
    total = electricity_ie + gas_m3 + gas_mwh + diesel + flight + waste + electricity_ni
    assert totals.total_kgco2e == pytest.approx(total, abs=0.001)
    assert totals.by_month == pytest.approx(
        {
            "2026-01": electricity_ie + gas_m3,
            "2026-02": gas_mwh + diesel + flight + waste + electricity_ni,
        },
        abs=0.001,
    )
    assert totals.by_site["unspecified"] == pytest.approx(flight, abs=0.001)
    assert totals.by_site["Belfast"] == pytest.approx(electricity_ni, abs=0.001)
    assert totals.by_category["natural_gas"] == pytest.approx(gas_m3 + gas_mwh, abs=0.001)
    # Market-based scope 2: the supplier factor where given, location-based elsewhere.
    assert totals.scope2_market_kgco2e == pytest.approx(electricity_ie + 2000 * 0.05, abs=0.001)
    assert totals.scope2_location_kgco2e == totals.by_scope["scope_2"]


def test_each_line_cites_its_factor() -> None:
    lines, _ = estimate_footprint(RECORDS[:3], default_factor_table(), "ie")
    electricity, gas_m3, gas_mwh = lines
    assert electricity.region == "ie"
    assert electricity.kgco2e_per_unit == 0.2548
    assert "SEAI" in electricity.factor_source
    assert electricity.scope == 2
    assert gas_m3.factor_unit == "m3"
    assert gas_mwh.category == "natural_gas"  # "gas" alias
    assert gas_mwh.factor_unit == "kWh"
    assert gas_mwh.factor_quantity == 1000.0
    assert "DESNZ" in gas_mwh.factor_source
    assert gas_mwh.factor_year == 2023


def test_grid_region_default_applies_to_electricity_without_region() -> None:
    record = [ActivityRecord(date="2026-01", category="electricity", quantity=100, unit="kWh")]
    lines, _ = estimate_footprint(record, default_factor_table(), "gb")
    assert lines[0].kgco2e == pytest.approx(20.707)
    assert lines[0].region == "gb"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            ActivityRecord(date="2026-01", category="natural_gas", quantity=1, unit="km"),
            r"unit 'km' for natural_gas: accepted units are .*kWh.*m3",
        ),
        (
            ActivityRecord(date="2026-01", category="diesel", quantity=1, unit="furlong"),
            r"accepted units are .*litre",
        ),
        (
            ActivityRecord(date="2026-01", category="unicorn_feed", quantity=1, unit="kg"),
            r"unknown activity category 'unicorn_feed'; known: .*electricity",
        ),
        (
            ActivityRecord(date="2026-01", category="diesel", quantity=-1, unit="litre"),
            "quantity must be",
        ),
        (
            ActivityRecord(date="January", category="diesel", quantity=1, unit="litre"),
            "YYYY-MM-DD or YYYY-MM",
        ),
        (
            ActivityRecord(
                date="2026-01", category="electricity", quantity=1, unit="kWh", region="fr"
            ),
            "unknown region",
        ),
    ],
)
def test_bad_records_are_clear_errors(record: ActivityRecord, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        estimate_footprint([record], default_factor_table(), "ie")


def test_error_names_the_record() -> None:
    bad = ActivityRecord(date="2026-03", category="diesel", quantity=1, unit="kWh")
    with pytest.raises(ToolError, match=r"record 2 \(diesel, 2026-03\)"):
        estimate_footprint([RECORDS[0], bad], default_factor_table(), "ie")


def test_trip_kilometres_count_as_one_passenger() -> None:
    trips = [
        ActivityRecord(date="2026-01", category="flight_domestic", quantity=500, unit="km"),
        ActivityRecord(date="2026-01", category="rail", quantity=100, unit="miles"),
    ]
    lines, _ = estimate_footprint(trips, default_factor_table(), "ie")
    assert [line.kgco2e for line in lines] == pytest.approx(
        [500 * 0.27258, 100 * 1.609344 * 0.03549], abs=0.001
    )
    assert lines[1].factor_unit == "passenger_km"


def test_unit_conversions() -> None:
    assert convert(1, "MWh", "kWh") == 1000
    assert convert(1, "therm", "kWh") == pytest.approx(29.3071)
    assert convert(3.6, "MJ", "kWh") == pytest.approx(1.0)
    assert convert(1, "m3", "litres") == 1000
    assert convert(1, "mile", "km") == pytest.approx(1.609344)
    with pytest.raises(UnitError, match="cannot convert kWh"):
        convert(1, "kWh", "litre")
    with pytest.raises(UnitError, match="unknown unit 'parsecs'"):
        convert(1, "parsecs", "km")


unit_pairs = st.sampled_from(
    [(a, b) for units in DIMENSIONS.values() for a in units for b in units]
)


@settings(deadline=None)  # timing varies on a shared CI machine
@given(st.floats(min_value=0, max_value=1e9, allow_nan=False), unit_pairs)
def test_unit_conversions_round_trip(quantity: float, pair: tuple[str, str]) -> None:
    source, target = pair
    assert convert(convert(quantity, source, target), target, source) == pytest.approx(
        quantity, rel=1e-9, abs=1e-9
    )


def test_overrides_replace_and_add_factors(tmp_path: Path) -> None:
    path = tmp_path / "factors.toml"
    path.write_text(
        """
[[factors]]
category = "electricity"
region = "ie"
unit = "kWh"
kgco2e_per_unit = 0.3
year = 2022
scope = 2
ghg_category = "Scope 2: purchased electricity (location-based)"
source = "SEAI 2022"

[[factors]]
category = "biomass_pellets"
unit = "tonne"
kgco2e_per_unit = 51.56
year = 2023
scope = 1
ghg_category = "Scope 1: stationary combustion"
source = "company audit"
"""
    )
    table = load_factor_table(str(path))
    records = [
        ActivityRecord(date="2026-01", category="electricity", quantity=100, unit="kWh"),
        ActivityRecord(date="2026-01", category="biomass_pellets", quantity=2000, unit="kg"),
    ]
    lines, totals = estimate_footprint(records, table, "ie")
    assert [line.kgco2e for line in lines] == pytest.approx([30.0, 103.12])
    assert lines[0].factor_source == "SEAI 2022"
    assert "overrides from factors.toml" in table.origin
    # The packaged table is untouched.
    assert default_factor_table().lookup("electricity", "kWh", "ie")[0].kgco2e_per_unit == 0.2548
    assert totals.total_kgco2e == pytest.approx(133.12)


def test_json_overrides_and_invalid_files(tmp_path: Path) -> None:
    good = tmp_path / "f.json"
    factor = {
        "category": "diesel",
        "unit": "litre",
        "kgco2e_per_unit": 2.7,
        "year": 2024,
        "scope": 1,
        "ghg_category": "Scope 1",
        "source": "supplier",
    }
    good.write_text(json.dumps({"factors": [factor]}))
    assert load_factor_table(str(good)).lookup("diesel", "l", None)[0].kgco2e_per_unit == 2.7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"factors": [{**factor, "scope": 7}]}))
    with pytest.raises(ToolError, match="invalid emission factors file"):
        load_factor_table(str(bad))
    wrong_unit = tmp_path / "unit.json"
    wrong_unit.write_text(json.dumps({"factors": [{**factor, "unit": "bushel"}]}))
    with pytest.raises(ToolError, match="unknown unit 'bushel'"):
        load_factor_table(str(wrong_unit))
    with pytest.raises(ToolError, match="cannot read"):
        load_factor_table(str(tmp_path / "missing.toml"))


def test_every_packaged_factor_has_provenance() -> None:
    factors = default_factor_table().all()
    assert len(factors) >= 30
    for factor in factors:
        assert factor.kgco2e_per_unit > 0
        assert factor.source
        assert 2020 <= factor.year <= 2026
        assert factor.scope in (1, 2, 3)


def test_emission_factors_tool_filters_and_uses_the_host_table(tmp_path: Path) -> None:
    flights = emission_factors(EmissionFactorsInput(category="flight"), CTX)
    assert {f.category for f in flights.factors} >= {"flight_domestic", "flight_long_haul_business"}
    assert all("flight" in f.category for f in flights.factors)
    with pytest.raises(ToolError, match="no factor category matches"):
        emission_factors(EmissionFactorsInput(category="teleport"), CTX)
    custom = FactorTable(default_factor_table().all()[:2], "test table")
    result = emission_factors(
        EmissionFactorsInput(), ToolContext(services={"emission_factors": custom})
    )
    assert len(result.factors) == 2
    assert "test table" in result.summary()


def test_carbon_footprint_tool_with_inline_records() -> None:
    result = carbon_footprint(CarbonFootprintInput(records=RECORDS[:2]), CTX)
    assert result.totals.total_kgco2e == pytest.approx(254.8 + 204.542)
    assert not result.synthetic
    assert [f.category for f in result.factors_used] == ["electricity", "natural_gas"]
    assert "tCO2e" in result.summary()


def test_carbon_footprint_tool_reads_the_dataset() -> None:
    dataset = Dataset(
        id="d1",
        name="bills.csv",
        kind="activity_records",
        columns=("date", "category", "quantity", "unit", "site"),
        rows=(
            {
                "date": "2026-01-01",
                "category": "electricity",
                "quantity": 500.0,
                "unit": "kWh",
                "site": "A",
            },
            {
                "date": "2026-02-01",
                "category": "lpg",
                "quantity": "100",
                "unit": "litre",
                "site": None,
            },
        ),
    )
    result = carbon_footprint(
        CarbonFootprintInput(use_dataset=True, grid_region="gb"), ToolContext(dataset=dataset)
    )
    assert result.totals.total_kgco2e == pytest.approx(500 * 0.20707 + 100 * 1.55709)
    assert result.sources[0].kind == "upload"
    numeric = Dataset(
        id="d2", name="sales.csv", kind="numeric_table", columns=("x",), rows=({"x": 1.0},)
    )
    with pytest.raises(ToolError, match="not activity records"):
        carbon_footprint(CarbonFootprintInput(use_dataset=True), ToolContext(dataset=numeric))
    with pytest.raises(ToolError, match="no dataset is attached"):
        carbon_footprint(CarbonFootprintInput(use_dataset=True), CTX)


def test_carbon_footprint_tool_with_a_synthetic_profile() -> None:
    profile = BusinessProfile(
        sector="office",
        employees=50,
        sites=2,
        fleet_vehicles=2,
        seed=3,
        months=12,
        start_month=None,
    )
    result = carbon_footprint(CarbonFootprintInput(synthetic_profile=profile), CTX)
    assert result.synthetic
    assert "SYNTHETIC" in result.summary()
    assert sorted(result.totals.by_month) == [f"2025-{m:02d}" for m in range(11, 13)] + [
        f"2026-{m:02d}" for m in range(1, 11)
    ]
    payload = result.for_model()
    assert len(payload["lines"]) == 10
    assert "10 largest" in payload["lines_note"]


def test_carbon_footprint_needs_exactly_one_input() -> None:
    with pytest.raises(ToolError, match="exactly one"):
        carbon_footprint(CarbonFootprintInput(), CTX)
    with pytest.raises(ToolError, match="exactly one"):
        carbon_footprint(CarbonFootprintInput(records=RECORDS, use_dataset=True), CTX)
