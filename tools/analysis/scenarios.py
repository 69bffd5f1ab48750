"""The ``reduction_scenarios`` tool: what simple measures would save against a footprint.

Levers (each acts on disjoint lines, so savings add up):
- shift a share of electricity into the cleanest hours, valued with grid data for the last
  seven full days (day mean vs the day's best window);
- switch a share of fleet fuel to battery-electric or HVO, using the factor table's ratios;
- cut a share of flights.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Literal

import msgspec

from tools.catalog_types import DataSource, ToolContext, ToolError
from tools.clock import now_from_context
from tools.footprint.estimate import FootprintLine, estimate_footprint
from tools.footprint.factors import FactorTable
from tools.footprint.records import ActivityRecord
from tools.footprint.tools import factor_table_from_context, resolve_records
from tools.grid.analysis import best_window
from tools.grid.model import Region, check_region
from tools.grid.service import fetch_range, source_from_context
from tools.grid.zones import local_date, region_zone
from tools.numeric import mean, safe_pct
from tools.synthetic.business import BusinessProfile

__all__ = ["ReductionScenariosInput", "ReductionScenariosResult", "Scenario", "reduction_scenarios"]

Pct = Annotated[float, msgspec.Meta(ge=0, le=100)]
_FLEET_FUELS = {"diesel": "car_diesel", "petrol": "car_petrol"}
_FLEET_KM = {"car_diesel", "car_petrol", "car_average", "van_diesel"}


class ReductionScenariosInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    records: list[ActivityRecord] | None = None
    use_dataset: bool | None = None
    synthetic_profile: BusinessProfile | None = None
    grid_region: Region | None = None
    shift_electricity_pct: Pct | None = None
    shift_window_hours: float | None = None
    fleet_switch_pct: Pct | None = None
    fleet_target: Literal["electric", "hvo"] | None = None
    cut_flights_pct: Pct | None = None


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    affected_kgco2e: float  # emissions of the lines the lever acts on
    saving_kgco2e: float
    saving_pct_of_total: float | None
    assumptions: tuple[str, ...]


class ReductionScenariosResult(msgspec.Struct, frozen=True, kw_only=True):
    unit: str = "kgCO2e"
    baseline_kgco2e: float
    scenarios: tuple[Scenario, ...]
    combined_saving_kgco2e: float
    combined_saving_pct: float | None
    new_total_kgco2e: float
    synthetic: bool
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        tag = " (SYNTHETIC inputs)" if self.synthetic else ""
        pct = "n/a" if self.combined_saving_pct is None else f"{self.combined_saving_pct:.1f}%"
        names = ", ".join(s.name for s in self.scenarios)
        return (
            f"Reduction scenarios{tag}: {names} save {self.combined_saving_kgco2e / 1000:.2f} "
            f"tCO2e of {self.baseline_kgco2e / 1000:.2f} ({pct})"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources


def _pct(value: float | None, name: str) -> float:
    if value is None:
        return 0.0
    if not 0.0 <= value <= 100.0:
        raise ToolError(f"{name} must be between 0 and 100")
    return value


def _sum(lines: Sequence[FootprintLine]) -> float:
    return sum(line.kgco2e for line in lines)


def _fleet_ratio(table: FactorTable, line: FootprintLine, target: str) -> float:
    """Emissions after switching, per unit of emissions before, for one fleet line."""
    if target == "hvo":
        if line.category != "diesel":
            return 1.0
        hvo, _ = table.lookup("hvo", "litre", None)
        return hvo.kgco2e_per_unit / line.kgco2e_per_unit
    electric, _ = table.lookup("car_electric", "km", None)
    per_km = _FLEET_FUELS.get(line.category, line.category)
    conventional, _ = table.lookup(per_km, "km", None)
    return electric.kgco2e_per_unit / conventional.kgco2e_per_unit


async def reduction_scenarios(
    args: ReductionScenariosInput, ctx: ToolContext
) -> ReductionScenariosResult:
    shift = _pct(args.shift_electricity_pct, "shift_electricity_pct")
    fleet = _pct(args.fleet_switch_pct, "fleet_switch_pct")
    flights = _pct(args.cut_flights_pct, "cut_flights_pct")
    if shift == fleet == flights == 0.0:
        raise ToolError(
            "set at least one lever: shift_electricity_pct, fleet_switch_pct or cut_flights_pct"
        )
    target = (args.fleet_target or "electric").strip().lower()
    if target not in ("electric", "hvo"):
        raise ToolError("fleet_target must be 'electric' or 'hvo'")
    records, sources = resolve_records(args.records, args.use_dataset, args.synthetic_profile, ctx)
    table = factor_table_from_context(ctx)
    region = check_region(args.grid_region or "ie")
    lines, totals = estimate_footprint(records, table, region)
    baseline = totals.total_kgco2e
    scenarios: list[Scenario] = []
    all_sources = [*sources, table.data_source()]

    if shift > 0:
        hours = args.shift_window_hours or 4.0
        now = now_from_context(ctx)
        zone = region_zone(region)  # the last 7 complete LOCAL days of the grid region
        end = local_date(now, zone) - timedelta(days=1)
        series = await fetch_range(
            source_from_context(ctx), region, end - timedelta(days=6), end, now
        )
        all_sources.append(series.source)
        step = timedelta(minutes=series.step_minutes)
        ratios: list[float] = []
        for offset in range(7):
            day = end - timedelta(days=offset)
            points = [p for p in series.points if local_date(p.ts, zone) == day]
            window = best_window(points, timedelta(hours=hours), step) if points else None
            if window is not None:
                ratios.append(window.mean / mean([p.value for p in points]))
        if not ratios:
            raise ToolError("not enough grid data in the last 7 days to value a load shift")
        reduction = 1.0 - mean(ratios)
        affected = _sum([line for line in lines if line.category == "electricity"])
        saving = affected * shift / 100.0 * reduction
        scenarios.append(
            Scenario(
                name="shift electricity to cleanest hours",
                description=(
                    f"move {shift:g}% of electricity use into each day's cleanest "
                    f"{hours:g} h window ({reduction * 100:.1f}% below the day mean)"
                ),
                affected_kgco2e=round(affected, 3),
                saving_kgco2e=round(saving, 3),
                saving_pct_of_total=_round(safe_pct(saving, baseline)),
                assumptions=(
                    f"grid profile of {region} over {end - timedelta(days=6)}..{end} is typical",
                    "the annual location-based factor scales with the daily intensity profile",
                ),
            )
        )
    if fleet > 0:
        fleet_lines = [
            line for line in lines if line.category in _FLEET_FUELS or line.category in _FLEET_KM
        ]
        affected = _sum(fleet_lines)
        saving = sum(
            line.kgco2e * fleet / 100.0 * (1.0 - _fleet_ratio(table, line, target))
            for line in fleet_lines
        )
        note = (
            "battery-electric per-km factor vs the conventional vehicle's (DESNZ, UK grid)"
            if target == "electric"
            else "HVO direct-emission factor vs diesel per litre; petrol lines unchanged"
        )
        scenarios.append(
            Scenario(
                name=f"switch fleet to {target}",
                description=f"switch {fleet:g}% of fleet fuel and vehicle-km to {target}",
                affected_kgco2e=round(affected, 3),
                saving_kgco2e=round(saving, 3),
                saving_pct_of_total=_round(safe_pct(saving, baseline)),
                assumptions=(note,),
            )
        )
    if flights > 0:
        affected = _sum([line for line in lines if line.category.startswith("flight_")])
        saving = affected * flights / 100.0
        scenarios.append(
            Scenario(
                name="cut flights",
                description=f"cut {flights:g}% of flight passenger-km",
                affected_kgco2e=round(affected, 3),
                saving_kgco2e=round(saving, 3),
                saving_pct_of_total=_round(safe_pct(saving, baseline)),
                assumptions=("no substitute travel (e.g. rail) is added",),
            )
        )
    combined = sum(s.saving_kgco2e for s in scenarios)
    return ReductionScenariosResult(
        baseline_kgco2e=baseline,
        scenarios=tuple(scenarios),
        combined_saving_kgco2e=round(combined, 3),
        combined_saving_pct=_round(safe_pct(combined, baseline)),
        new_total_kgco2e=round(baseline - combined, 3),
        synthetic=any(s.synthetic for s in all_sources),
        sources=tuple(all_sources),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
