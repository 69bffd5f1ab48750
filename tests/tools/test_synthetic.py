"""Synthetic business data: deterministic, tagged, with planted anomalies where listed."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.catalog_types import ToolContext, ToolError
from tools.synthetic import SECTORS, BusinessProfile, generate_business_data
from tools.synthetic.business import Sector
from tools.synthetic.tools import SyntheticBusinessInput, synthetic_business_data

PROFILE = BusinessProfile(
    sector="retail",
    employees=40,
    sites=3,
    fleet_vehicles=5,
    seed=42,
    months=12,
    start_month="2025-01",
)


def test_same_seed_gives_byte_identical_csv() -> None:
    first, second = generate_business_data(PROFILE), generate_business_data(PROFILE)
    assert first.activity_csv() == second.activity_csv()
    assert first.sales_csv() == second.sales_csv()
    other = generate_business_data(msgspec.structs.replace(PROFILE, seed=43))
    assert other.activity_csv() != first.activity_csv()


def test_shape_of_the_generated_tables() -> None:
    data = generate_business_data(PROFILE)
    assert data.synthetic
    assert data.seed == 42
    assert [s.month for s in data.sales] == [f"2025-{m:02d}" for m in range(1, 13)]
    sites = {r.site for r in data.activity}
    assert sites == {"Dublin", "Cork", "Belfast"}
    belfast = [r for r in data.activity if r.site == "Belfast" and r.category == "electricity"]
    assert {r.region for r in belfast} == {"ni"}
    categories = {r.category for r in data.activity}
    assert {"electricity", "natural_gas", "diesel", "road_freight", "waste_landfill"} <= categories
    header, first_row = data.activity_csv().splitlines()[:2]
    assert header == "date,category,quantity,unit,site,cost,region"
    assert first_row.startswith("2025-01,electricity,")
    assert "SYNTHETIC" in data.data_source().detail
    assert "seed 42" in data.data_source().detail


def test_winter_gas_exceeds_summer_gas() -> None:
    data = generate_business_data(PROFILE)
    gas = {
        r.date: r.quantity
        for r in data.activity
        if r.category == "natural_gas" and r.site == "Cork"
    }
    assert gas["2025-01"] > 1.8 * gas["2025-07"]


def test_planted_anomalies_are_where_they_are_listed() -> None:
    data = generate_business_data(PROFILE)
    revenue = {s.month: s.revenue_eur for s in data.sales}
    planted = [a for a in data.anomalies if a.series == "revenue_eur"]
    assert {a.multiplier for a in planted} == {1.6, 0.5}
    median = sorted(revenue.values())[len(revenue) // 2]
    for anomaly in planted:
        ratio = revenue[anomaly.month] / median
        assert (ratio > 1.25) if anomaly.multiplier > 1 else (ratio < 0.75)
    spikes = [a for a in data.anomalies if a.series == "electricity"]
    assert len(spikes) == 1


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(SECTORS),
    st.integers(1, 500),
    st.integers(1, 10),
    st.integers(0, 20),
    st.integers(0, 2**32),
    st.integers(1, 24),
)
def test_generators_are_deterministic(
    sector: Sector, employees: int, sites: int, vehicles: int, seed: int, months: int
) -> None:
    profile = BusinessProfile(
        sector=sector,
        employees=employees,
        sites=sites,
        fleet_vehicles=vehicles,
        seed=seed,
        months=months,
        start_month="2024-11",
    )
    a, b = generate_business_data(profile), generate_business_data(profile)
    assert a.activity_csv() == b.activity_csv()
    assert a.sales_csv() == b.sales_csv()
    assert all(r.quantity >= 0 for r in a.activity)
    assert len(a.sales) == months


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sector": "mining"}, "unknown sector"),
        ({"employees": 0}, "employees"),
        ({"sites": 0}, "sites"),
        ({"months": 500}, "months"),
        ({"start_month": "Jan 2025"}, "YYYY-MM"),
        ({"start_month": None}, "start_month is required"),
    ],
)
def test_invalid_profiles(change: dict[str, object], message: str) -> None:
    profile = msgspec.structs.replace(PROFILE, **change)
    with pytest.raises(ToolError, match=message):
        generate_business_data(profile)


def test_tool_defaults_start_month_to_the_months_before_now() -> None:
    args = SyntheticBusinessInput(
        sector="office", employees=10, sites=1, fleet_vehicles=0, seed=1, months=6
    )
    result = synthetic_business_data(args, ToolContext(now="2026-11-26T09:00:00Z"))
    assert result.dataset.start_month == "2026-05"
    assert result.dataset.sales[-1].month == "2026-10"
    assert "SYNTHETIC" in result.summary()
    payload = result.for_model()
    assert payload["synthetic"] is True
    assert len(payload["activity_sample"]) == 8
    assert result.units_by_category["electricity"] == "kWh"
    assert result.totals_by_category["electricity"] == pytest.approx(
        sum(r.quantity for r in result.dataset.activity if r.category == "electricity"), abs=0.1
    )
