"""The footprint tools the model calls: ``emission_factors`` and ``carbon_footprint``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from tools.catalog_types import DataSource, ToolContext, ToolError
from tools.clock import now_from_context
from tools.footprint.estimate import FootprintLine, FootprintTotals, estimate_footprint
from tools.footprint.factors import (
    EMISSION_FACTORS_SERVICE,
    EmissionFactor,
    FactorTable,
    default_factor_table,
)
from tools.footprint.records import ActivityRecord, records_from_rows
from tools.grid.model import Region
from tools.synthetic.business import BusinessProfile, generate_business_data

__all__ = [
    "CarbonFootprintInput",
    "CarbonFootprintResult",
    "EmissionFactorsInput",
    "EmissionFactorsResult",
    "FactorUsed",
    "carbon_footprint",
    "emission_factors",
    "factor_table_from_context",
    "resolve_records",
]

_MODEL_LINE_LIMIT = 30


def factor_table_from_context(ctx: ToolContext) -> FactorTable:
    """The host's table (config overrides applied), else the packaged one."""
    table = ctx.services.get(EMISSION_FACTORS_SERVICE)
    return table if isinstance(table, FactorTable) else default_factor_table()


def default_start_month(now: datetime, months: int) -> str:
    """The first month of the ``months`` complete calendar months before ``now``."""
    index = now.year * 12 + (now.month - 1) - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def resolve_records(
    records: Sequence[ActivityRecord] | None,
    use_dataset: bool | None,
    profile: BusinessProfile | None,
    ctx: ToolContext,
) -> tuple[list[ActivityRecord], list[DataSource]]:
    """Exactly one of: inline records, the run's uploaded dataset, or a synthetic profile."""
    chosen = sum([bool(records), bool(use_dataset), profile is not None])
    if chosen != 1:
        raise ToolError(
            "give exactly one of: records (a list of activity records), use_dataset=true "
            "(the uploaded dataset), or synthetic_profile"
        )
    if records:
        return list(records), [
            DataSource(name="activity records from the request", kind="activity", synthetic=False)
        ]
    if use_dataset:
        dataset = ctx.dataset
        if dataset is None:
            raise ToolError("no dataset is attached to this run; upload one or pass records")
        if dataset.kind != "activity_records":
            raise ToolError(
                f"dataset {dataset.name!r} is a {dataset.kind}, not activity records "
                "(needs columns date, category, quantity, unit)"
            )
        return records_from_rows(dataset.rows), [
            DataSource(
                name=f"uploaded dataset {dataset.name}",
                kind="upload",
                synthetic=False,
                detail=f"{len(dataset.rows)} rows, id {dataset.id}",
            )
        ]
    assert profile is not None  # exactly one was chosen above
    if profile.start_month is None:
        start = default_start_month(now_from_context(ctx), profile.months)
        profile = msgspec.structs.replace(profile, start_month=start)
    data = generate_business_data(profile)
    return list(data.activity), [data.data_source()]


class EmissionFactorsInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    category: str | None = None


class EmissionFactorsResult(msgspec.Struct, frozen=True, kw_only=True):
    factors: tuple[EmissionFactor, ...]
    origin: str
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        categories = len({f.category for f in self.factors})
        return f"{len(self.factors)} emission factors in {categories} categories ({self.origin})"

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources


def emission_factors(args: EmissionFactorsInput, ctx: ToolContext) -> EmissionFactorsResult:
    table = factor_table_from_context(ctx)
    factors = table.all()
    if args.category:
        needle = args.category.strip().lower().replace(" ", "_")
        factors = [f for f in factors if needle in f.category]
        if not factors:
            raise ToolError(
                f"no factor category matches {args.category!r}; known: "
                f"{', '.join(table.categories())}"
            )
    return EmissionFactorsResult(
        factors=tuple(factors), origin=table.origin, sources=(table.data_source(),)
    )


class CarbonFootprintInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    records: list[ActivityRecord] | None = None
    use_dataset: bool | None = None
    synthetic_profile: BusinessProfile | None = None
    grid_region: Region | None = None


class FactorUsed(msgspec.Struct, frozen=True, kw_only=True):
    category: str
    region: str | None
    unit: str
    kgco2e_per_unit: float
    year: int
    source: str


class CarbonFootprintResult(msgspec.Struct, frozen=True, kw_only=True):
    unit: str = "kgCO2e"
    grid_region: str
    record_count: int
    lines: tuple[FootprintLine, ...]
    totals: FootprintTotals
    factors_used: tuple[FactorUsed, ...]
    synthetic: bool
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        t = self.totals
        tag = " (SYNTHETIC data)" if self.synthetic else ""
        s1, s2, s3 = (t.by_scope[f"scope_{n}"] / 1000 for n in (1, 2, 3))
        return (
            f"Footprint{tag}: {t.total_kgco2e / 1000:.2f} tCO2e from {self.record_count} records "
            f"(scope 1 {s1:.2f}, scope 2 {s2:.2f} location-based, scope 3 {s3:.2f})"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources

    def for_model(self) -> dict[str, Any]:
        payload: dict[str, Any] = msgspec.to_builtins(self)
        if len(self.lines) > _MODEL_LINE_LIMIT:
            top = sorted(self.lines, key=lambda line: -line.kgco2e)[:10]
            payload["lines"] = msgspec.to_builtins(top)
            payload["lines_note"] = f"10 largest of {len(self.lines)} lines shown"
        return payload


def carbon_footprint(args: CarbonFootprintInput, ctx: ToolContext) -> CarbonFootprintResult:
    records, sources = resolve_records(args.records, args.use_dataset, args.synthetic_profile, ctx)
    if not records:
        raise ToolError("no activity records to estimate")
    table = factor_table_from_context(ctx)
    region = args.grid_region or "ie"
    lines, totals = estimate_footprint(records, table, region)
    used: dict[tuple[str, str | None, str], FactorUsed] = {}
    for line in lines:
        used.setdefault(
            (line.category, line.region, line.factor_unit),
            FactorUsed(
                category=line.category,
                region=line.region,
                unit=line.factor_unit,
                kgco2e_per_unit=line.kgco2e_per_unit,
                year=line.factor_year,
                source=line.factor_source,
            ),
        )
    return CarbonFootprintResult(
        grid_region=region,
        record_count=len(records),
        lines=tuple(lines),
        totals=totals,
        factors_used=tuple(used[k] for k in sorted(used, key=lambda k: (k[0], k[1] or ""))),
        synthetic=any(s.synthetic for s in sources),
        sources=(*sources, table.data_source()),
    )
