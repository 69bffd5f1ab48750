"""The footprint estimator: activity records x emission factors → kgCO2e by scope, category,
month and site, each line citing its factor. Scope 2 is location-based (the grid region's
average factor); supplier factors give the market-based figure alongside."""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from tools.catalog_types import ToolError
from tools.footprint.factors import FactorTable
from tools.footprint.records import ActivityRecord, record_month
from tools.grid.model import check_region

__all__ = ["FootprintLine", "FootprintTotals", "estimate_footprint"]


class FootprintLine(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    date: str
    month: str
    category: str
    site: str
    quantity: float
    unit: str
    factor_quantity: float  # the quantity in the factor's unit
    factor_unit: str
    kgco2e_per_unit: float
    kgco2e: float  # location-based for electricity
    scope: int
    ghg_category: str
    factor_year: int
    factor_source: str
    region: str | None
    market_kgco2e: float | None  # electricity with a supplier factor only
    cost: float | None


class FootprintTotals(msgspec.Struct, frozen=True, kw_only=True):
    total_kgco2e: float
    by_scope: dict[str, float]
    by_category: dict[str, float]
    by_ghg_category: dict[str, float]
    by_month: dict[str, float]
    by_site: dict[str, float]
    scope2_location_kgco2e: float
    scope2_market_kgco2e: float  # supplier factors where given, location factors otherwise
    total_cost: float | None


def _add(bucket: dict[str, float], key: str, value: float) -> None:
    bucket[key] = bucket.get(key, 0.0) + value


_SCOPE_KEYS = {1: "scope_1", 2: "scope_2", 3: "scope_3"}


def _where(index: int, record: ActivityRecord) -> str:
    return f"record {index} ({record.category}, {record.date})"


def _rounded(bucket: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in sorted(bucket.items())}


def estimate_footprint(
    records: Sequence[ActivityRecord], table: FactorTable, default_region: str = "ie"
) -> tuple[list[FootprintLine], FootprintTotals]:
    """Compute every line and the totals. Bad records raise ToolError naming the record."""
    region_default = check_region(default_region)
    lines: list[FootprintLine] = []
    by_scope = {"scope_1": 0.0, "scope_2": 0.0, "scope_3": 0.0}
    by_category: dict[str, float] = {}
    by_ghg: dict[str, float] = {}
    by_month: dict[str, float] = {}
    by_site: dict[str, float] = {}
    market = 0.0
    cost_total = 0.0
    has_cost = False
    months: dict[str, str] = {}
    for index, record in enumerate(records, start=1):
        if not math.isfinite(record.quantity) or record.quantity < 0:
            raise ToolError(f"{_where(index, record)}: quantity must be a finite number >= 0")
        try:
            month = months.get(record.date) or months.setdefault(record.date, record_month(record))
            category = table.canonical_category(record.category)
            region = (
                check_region(record.region or region_default) if category == "electricity" else None
            )
            factor, multiplier = table.lookup(category, record.unit, region)
        except ToolError as exc:
            raise ToolError(f"{_where(index, record)}: {exc}") from exc
        factor_quantity = record.quantity * multiplier
        kg = factor_quantity * factor.kgco2e_per_unit
        market_kg: float | None = None
        if category == "electricity":
            if record.supplier_factor is not None:
                if record.supplier_factor < 0:
                    raise ToolError(f"{_where(index, record)}: supplier_factor must be >= 0")
                market_kg = factor_quantity * record.supplier_factor
            market += kg if market_kg is None else market_kg
        site = record.site or "unspecified"
        lines.append(
            FootprintLine(
                date=record.date,
                month=month,
                category=category,
                site=site,
                quantity=record.quantity,
                unit=record.unit,
                factor_quantity=round(factor_quantity, 6),
                factor_unit=factor.unit,
                kgco2e_per_unit=factor.kgco2e_per_unit,
                kgco2e=round(kg, 3),
                scope=factor.scope,
                ghg_category=factor.ghg_category,
                factor_year=factor.year,
                factor_source=factor.source,
                region=region,
                market_kgco2e=None if market_kg is None else round(market_kg, 3),
                cost=record.cost,
            )
        )
        by_scope[_SCOPE_KEYS[factor.scope]] += kg
        _add(by_category, category, kg)
        _add(by_ghg, factor.ghg_category, kg)
        _add(by_month, month, kg)
        _add(by_site, site, kg)
        if record.cost is not None:
            has_cost = True
            cost_total += record.cost
    totals = FootprintTotals(
        total_kgco2e=round(math.fsum(by_scope.values()), 3),
        by_scope=_rounded(by_scope),
        by_category=_rounded(by_category),
        by_ghg_category=_rounded(by_ghg),
        by_month=_rounded(by_month),
        by_site=_rounded(by_site),
        scope2_location_kgco2e=round(by_scope["scope_2"], 3),
        scope2_market_kgco2e=round(market, 3),
        total_cost=round(cost_total, 2) if has_cost else None,
    )
    return lines, totals
