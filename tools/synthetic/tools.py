"""The ``synthetic_business_data`` tool: seeded demo data, always labelled synthetic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from tools.catalog_types import DataSource, ToolContext
from tools.clock import now_from_context
from tools.footprint.tools import default_start_month
from tools.synthetic.business import (
    BusinessDataset,
    BusinessProfile,
    generate_business_data,
)

__all__ = ["SyntheticBusinessInput", "SyntheticBusinessResult", "synthetic_business_data"]


class SyntheticBusinessInput(BusinessProfile, frozen=True):
    # The profile's fields; no docstring, so the tool's schema carries no extra description.
    pass


class SyntheticBusinessResult(msgspec.Struct, frozen=True, kw_only=True):
    dataset: BusinessDataset
    activity_csv: str
    sales_csv: str
    totals_by_category: dict[str, float]  # summed quantities, in each category's unit
    units_by_category: dict[str, str]

    def summary(self) -> str:
        d = self.dataset
        return (
            f"SYNTHETIC business data (seed {d.seed}): {len(d.activity)} activity records and "
            f"{len(d.sales)} months of sales for a {d.profile.sector} company from {d.start_month}"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return (self.dataset.data_source(),)

    def for_model(self) -> dict[str, Any]:
        """Totals, the sales table and the planted anomalies; not every activity row."""
        d = self.dataset
        return {
            "synthetic": True,
            "seed": d.seed,
            "profile": msgspec.to_builtins(d.profile),
            "start_month": d.start_month,
            "activity_records": len(d.activity),
            "activity_sample": msgspec.to_builtins(d.activity[:8]),
            "totals_by_category": self.totals_by_category,
            "units_by_category": self.units_by_category,
            "sales": msgspec.to_builtins(d.sales),
            "planted_anomalies": msgspec.to_builtins(d.anomalies),
        }


def synthetic_business_data(
    args: SyntheticBusinessInput, ctx: ToolContext
) -> SyntheticBusinessResult:
    start = args.start_month or default_start_month(now_from_context(ctx), args.months)
    profile = BusinessProfile(**{**msgspec.structs.asdict(args), "start_month": start})
    data = generate_business_data(profile)
    totals: dict[str, float] = {}
    units: dict[str, str] = {}
    for record in data.activity:
        totals[record.category] = totals.get(record.category, 0.0) + record.quantity
        units[record.category] = record.unit
    return SyntheticBusinessResult(
        dataset=data,
        activity_csv=data.activity_csv(),
        sales_csv=data.sales_csv(),
        totals_by_category={k: round(v, 1) for k, v in sorted(totals.items())},
        units_by_category=dict(sorted(units.items())),
    )
