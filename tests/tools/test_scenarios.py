"""Reduction scenarios with savings recomputed by hand."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.tools.fixed_source import FixedSource
from tools.analysis.scenarios import ReductionScenariosInput, reduction_scenarios
from tools.catalog_types import ToolContext, ToolError
from tools.footprint import ActivityRecord
from tools.synthetic import BusinessProfile

RECORDS = [
    ActivityRecord(date="2026-01", category="electricity", quantity=10_000, unit="kWh"),
    ActivityRecord(date="2026-01", category="diesel", quantity=1_000, unit="litre"),
    ActivityRecord(
        date="2026-01", category="flight_short_haul_economy", quantity=10_000, unit="pkm"
    ),
]
BASELINE = 10_000 * 0.2548 + 1_000 * 2.51233 + 10_000 * 0.15102


def dip(ts: datetime) -> float:
    return 100.0 if 13 <= ts.hour < 16 else 300.0


def ctx(source: object | None = None) -> ToolContext:
    services = {} if source is None else {"grid_source": source}
    return ToolContext(now="2026-11-26T09:00:00Z", services=services)


async def test_flight_and_fleet_levers() -> None:
    result = await reduction_scenarios(
        ReductionScenariosInput(
            records=RECORDS, cut_flights_pct=50, fleet_switch_pct=100, fleet_target="hvo"
        ),
        ctx(),
    )
    assert result.baseline_kgco2e == pytest.approx(BASELINE, abs=0.001)
    fleet, flights = result.scenarios
    assert fleet.saving_kgco2e == pytest.approx(1_000 * (2.51233 - 0.03558), abs=0.001)
    assert flights.saving_kgco2e == pytest.approx(10_000 * 0.15102 * 0.5, abs=0.001)
    combined = fleet.saving_kgco2e + flights.saving_kgco2e
    assert result.combined_saving_kgco2e == pytest.approx(combined, abs=0.001)
    assert result.new_total_kgco2e == pytest.approx(BASELINE - combined, abs=0.002)
    assert result.combined_saving_pct == round(combined / result.baseline_kgco2e * 100, 2)
    assert not result.synthetic


async def test_fleet_to_electric_uses_the_factor_ratio() -> None:
    result = await reduction_scenarios(
        ReductionScenariosInput(records=RECORDS, fleet_switch_pct=50), ctx()
    )
    (fleet,) = result.scenarios
    expected = 1_000 * 2.51233 * 0.5 * (1 - 0.0469 / 0.16984)
    assert fleet.saving_kgco2e == pytest.approx(expected, abs=0.001)
    assert fleet.name == "switch fleet to electric"


async def test_load_shift_is_valued_with_the_last_week_of_grid_data() -> None:
    source = FixedSource(dip)
    result = await reduction_scenarios(
        ReductionScenariosInput(records=RECORDS, shift_electricity_pct=50, shift_window_hours=3),
        ctx(source),
    )
    (shift,) = result.scenarios
    # Each day: best 3 h mean 100 vs day mean 275 -> 63.64% cleaner for the shifted half.
    assert shift.saving_kgco2e == pytest.approx(2548 * 0.5 * (1 - 100 / 275), abs=0.001)
    assert source.calls == [("ie", date(2026, 11, 19), date(2026, 11, 25))]
    assert "2026-11-19..2026-11-25" in shift.assumptions[0]


async def test_synthetic_inputs_are_flagged() -> None:
    profile = BusinessProfile(
        sector="logistics",
        employees=30,
        sites=1,
        fleet_vehicles=10,
        seed=5,
        months=3,
        start_month="2026-01",
    )
    result = await reduction_scenarios(
        ReductionScenariosInput(
            synthetic_profile=profile, shift_electricity_pct=20, cut_flights_pct=10
        ),
        ctx(),
    )
    assert result.synthetic
    assert "SYNTHETIC" in result.summary()
    assert all(s.saving_kgco2e > 0 for s in result.scenarios)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (ReductionScenariosInput(records=RECORDS), "at least one lever"),
        (ReductionScenariosInput(records=RECORDS, cut_flights_pct=150), "between 0 and 100"),
        (ReductionScenariosInput(cut_flights_pct=10), "exactly one"),
    ],
)
async def test_scenario_input_errors(args: ReductionScenariosInput, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await reduction_scenarios(args, ctx())
