"""Deterministic synthetic business data for demos and offline runs.

Same profile and seed → byte-identical records and CSV (one ``random.Random(seed)`` stream
consumed in a fixed order, values rounded before formatting). Everything produced is tagged
synthetic with its seed; planted anomalies are listed so analyses can be checked.
"""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import date
from typing import Annotated, Literal, get_args

import msgspec

from tools.catalog_types import DataSource, ToolError
from tools.footprint.records import ActivityRecord

__all__ = [
    "SECTORS",
    "BusinessDataset",
    "BusinessProfile",
    "PlantedAnomaly",
    "SalesPoint",
    "Sector",
    "generate_business_data",
]

Sector = Literal["office", "retail", "manufacturing", "hospitality", "logistics"]
SECTORS: tuple[Sector, ...] = get_args(Sector)

_SITE_NAMES = (
    ("Dublin", "ie"),
    ("Cork", "ie"),
    ("Belfast", "ni"),
    ("Galway", "ie"),
    ("Limerick", "ie"),
    ("Derry", "ni"),
    ("Waterford", "ie"),
    ("Kilkenny", "ie"),
)


class _SectorShape(msgspec.Struct, frozen=True):
    electricity_kwh: float  # per employee per month
    gas_kwh: float  # per employee per month (winter-weighted)
    flights_pkm: float  # per employee per month
    waste_t: float  # per employee per month
    water_m3: float  # per employee per month
    freight_tkm: float  # per site per month
    diesel_l: float  # per vehicle per month
    revenue_eur: float  # per employee per month
    unit_price_eur: float
    sales_peak_month: int
    sales_amplitude: float


_SHAPES: dict[Sector, _SectorShape] = {
    "office": _SectorShape(180, 250, 120, 0.02, 1.2, 0, 90, 9000, 450, 3, 0.08),
    "retail": _SectorShape(350, 300, 20, 0.04, 1.5, 2500, 150, 12000, 35, 12, 0.3),
    "manufacturing": _SectorShape(1200, 1500, 40, 0.10, 3.0, 6000, 180, 15000, 120, 5, 0.1),
    "hospitality": _SectorShape(600, 900, 10, 0.06, 4.0, 800, 80, 5000, 25, 7, 0.35),
    "logistics": _SectorShape(300, 200, 15, 0.03, 1.0, 20000, 400, 11000, 60, 11, 0.15),
}

_PRICE_EUR = {
    "electricity": 0.30,
    "natural_gas": 0.12,
    "diesel": 1.75,
    "flight_short_haul_economy": 0.12,
    "road_freight": 0.09,
    "waste_landfill": 180.0,
    "water_supply": 2.5,
}


class BusinessProfile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A company to simulate; start_month is YYYY-MM (null: the months before now)."""

    sector: Sector
    employees: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    sites: Annotated[int, msgspec.Meta(ge=1, le=50)]
    fleet_vehicles: Annotated[int, msgspec.Meta(ge=0, le=10_000)]
    seed: int
    months: Annotated[int, msgspec.Meta(ge=1, le=120)]
    start_month: str | None = None


class SalesPoint(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    revenue_eur: float
    units: int
    orders: int


class PlantedAnomaly(msgspec.Struct, frozen=True, kw_only=True):
    """A deliberately inserted outlier (so anomaly detection can be checked)."""

    series: str
    month: str
    site: str | None
    multiplier: float


class BusinessDataset(msgspec.Struct, frozen=True, kw_only=True):
    profile: BusinessProfile
    start_month: str
    seed: int
    synthetic: bool = True
    activity: tuple[ActivityRecord, ...]
    sales: tuple[SalesPoint, ...]
    anomalies: tuple[PlantedAnomaly, ...]

    def data_source(self) -> DataSource:
        return DataSource(
            name="synthetic business data",
            kind="business_data",
            synthetic=True,
            detail=(
                f"SYNTHETIC: {self.profile.sector}, {self.profile.employees} employees, "
                f"{self.profile.sites} sites, {self.profile.fleet_vehicles} vehicles, "
                f"seed {self.seed}, {len(self.sales)} months from {self.start_month}"
            ),
        )

    def activity_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["date", "category", "quantity", "unit", "site", "cost", "region"])
        for r in self.activity:
            writer.writerow(
                [
                    r.date,
                    r.category,
                    f"{r.quantity:.1f}",
                    r.unit,
                    r.site or "",
                    _money(r.cost),
                    r.region or "",
                ]
            )
        return buffer.getvalue()

    def sales_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["month", "revenue_eur", "units", "orders"])
        for s in self.sales:
            writer.writerow([s.month, f"{s.revenue_eur:.2f}", s.units, s.orders])
        return buffer.getvalue()


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _month_list(start: date, count: int) -> list[str]:
    months = []
    year, month = start.year, start.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return months


def _seasonal(month_number: int, peak: int, amplitude: float) -> float:
    return 1.0 + amplitude * math.cos(2.0 * math.pi * (month_number - peak) / 12.0)


def _validate(profile: BusinessProfile) -> tuple[Sector, date]:
    sector = next((s for s in SECTORS if s == profile.sector.strip().lower()), None)
    if sector is None:
        raise ToolError(f"unknown sector {profile.sector!r}; use one of {', '.join(SECTORS)}")
    if not 1 <= profile.employees <= 100_000:
        raise ToolError("employees must be between 1 and 100000")
    if not 1 <= profile.sites <= 50:
        raise ToolError("sites must be between 1 and 50")
    if not 0 <= profile.fleet_vehicles <= 10_000:
        raise ToolError("fleet_vehicles must be between 0 and 10000")
    if not 1 <= profile.months <= 120:
        raise ToolError("months must be between 1 and 120")
    if profile.start_month is None:
        raise ToolError("start_month is required (YYYY-MM)")
    try:
        start = date.fromisoformat(profile.start_month.strip() + "-01")
    except ValueError as exc:
        raise ToolError(f"start_month must be YYYY-MM, got {profile.start_month!r}") from exc
    return sector, start


def _sites(count: int) -> list[tuple[str, str]]:
    return [
        _SITE_NAMES[i] if i < len(_SITE_NAMES) else (f"Site {i + 1}", "ie") for i in range(count)
    ]


def generate_business_data(profile: BusinessProfile) -> BusinessDataset:
    """Monthly activity records per site plus a monthly sales series, all seeded."""
    sector, start = _validate(profile)
    shape = _SHAPES[sector]
    rng = random.Random(profile.seed)
    months = _month_list(start, profile.months)
    sites = _sites(profile.sites)
    staff = [profile.employees // profile.sites] * profile.sites
    staff[0] += profile.employees - sum(staff)
    vehicles = [profile.fleet_vehicles // profile.sites] * profile.sites
    vehicles[0] += profile.fleet_vehicles - sum(vehicles)

    anomalies: list[PlantedAnomaly] = []
    spike_month = rng.randrange(profile.months) if profile.months >= 6 else -1
    spike_site = rng.randrange(profile.sites)
    sales_spike = rng.randrange(profile.months) if profile.months >= 6 else -1
    sales_dip = rng.randrange(profile.months) if profile.months >= 6 else -1
    if sales_dip == sales_spike:
        sales_dip = (sales_dip + profile.months // 2) % profile.months if sales_dip >= 0 else -1

    def noisy(value: float) -> float:
        return max(0.0, value * (1.0 + rng.gauss(0.0, 0.05)))

    activity: list[ActivityRecord] = []
    for m_index, month in enumerate(months):
        month_number = int(month[5:])
        heating = _seasonal(month_number, 1, 0.6)
        cooling = _seasonal(month_number, 7, 0.08)
        for s_index, (site, region) in enumerate(sites):
            people = staff[s_index]
            electricity = noisy(people * shape.electricity_kwh * cooling)
            if m_index == spike_month and s_index == spike_site:
                electricity *= 1.8
                anomalies.append(
                    PlantedAnomaly(series="electricity", month=month, site=site, multiplier=1.8)
                )
            quantities: list[tuple[str, float, str]] = [
                ("electricity", electricity, "kWh"),
                ("natural_gas", noisy(people * shape.gas_kwh * heating), "kWh"),
            ]
            if vehicles[s_index]:
                quantities.append(("diesel", noisy(vehicles[s_index] * shape.diesel_l), "litre"))
            if shape.flights_pkm:
                quantities.append(
                    ("flight_short_haul_economy", noisy(people * shape.flights_pkm), "passenger_km")
                )
            if shape.freight_tkm:
                quantities.append(("road_freight", noisy(shape.freight_tkm), "tonne_km"))
            quantities.append(("waste_landfill", noisy(people * shape.waste_t), "tonne"))
            quantities.append(("water_supply", noisy(people * shape.water_m3), "m3"))
            for category, quantity, unit in quantities:
                qty = round(quantity, 1)
                activity.append(
                    ActivityRecord(
                        date=month,
                        category=category,
                        quantity=qty,
                        unit=unit,
                        site=site,
                        cost=round(qty * _PRICE_EUR[category], 2),
                        region=region if category == "electricity" else None,
                    )
                )

    sales: list[SalesPoint] = []
    for m_index, month in enumerate(months):
        month_number = int(month[5:])
        base = profile.employees * shape.revenue_eur * (1.0 + 0.005 * m_index)
        revenue = noisy(
            base * _seasonal(month_number, shape.sales_peak_month, shape.sales_amplitude)
        )
        if m_index == sales_spike:
            revenue *= 1.6
            anomalies.append(
                PlantedAnomaly(series="revenue_eur", month=month, site=None, multiplier=1.6)
            )
        elif m_index == sales_dip:
            revenue *= 0.5
            anomalies.append(
                PlantedAnomaly(series="revenue_eur", month=month, site=None, multiplier=0.5)
            )
        units = round(revenue / shape.unit_price_eur)
        orders = max(1, round(units / max(1.0, rng.uniform(1.5, 3.0))))
        sales.append(
            SalesPoint(month=month, revenue_eur=round(revenue, 2), units=units, orders=orders)
        )

    return BusinessDataset(
        profile=profile,
        start_month=months[0],
        seed=profile.seed,
        activity=tuple(activity),
        sales=tuple(sales),
        anomalies=tuple(anomalies),
    )
