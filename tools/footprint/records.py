"""Activity records: the input of the footprint estimator, from the model, a dataset or the
synthetic generator."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import msgspec

from tools.catalog_types import ToolError

__all__ = ["ACTIVITY_COLUMNS", "ActivityRecord", "record_month", "records_from_rows"]

ACTIVITY_COLUMNS = ("date", "category", "quantity", "unit")  # required columns of a table


class ActivityRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One measured activity, e.g. 1,200 kWh of electricity at site "Dublin" in 2025-03."""

    date: str  # YYYY-MM-DD or YYYY-MM
    category: str  # e.g. electricity, natural_gas, diesel, flight_short_haul_economy
    quantity: float
    unit: str  # e.g. kWh, m3, litre, km, passenger_km, tonne_km, tonne, EUR
    site: str | None = None
    cost: float | None = None  # what it cost (EUR), for intensity ratios
    region: str | None = None  # electricity grid region (ie, ni, all, gb)
    supplier_factor: float | None = None  # electricity supplier kgCO2e/kWh (market-based)


def record_month(record: ActivityRecord) -> str:
    """The record's calendar month (YYYY-MM); the date is validated here."""
    text = record.date.strip()
    try:
        if len(text) == 7:
            date.fromisoformat(text + "-01")
        else:
            date.fromisoformat(text)
    except ValueError as exc:
        raise ToolError(f"record date must be YYYY-MM-DD or YYYY-MM, got {record.date!r}") from exc
    return text[:7]


_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def _optional_float(value: Any, column: str, line: int) -> float | None:
    """A number from a cell; "1,500" (thousands separators) is accepted, "1,5" is not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and _THOUSANDS.match(value.strip()):
        value = value.replace(",", "")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ToolError(f"row {line}: {column} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise ToolError(f"row {line}: {column} must be a finite number, got {value!r}")
    return number


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def records_from_rows(
    rows: Sequence[Mapping[str, Any]], first_line: int = 2
) -> list[ActivityRecord]:
    """Typed records from table rows (e.g. an uploaded CSV; line numbers count the header)."""
    records: list[ActivityRecord] = []
    for offset, row in enumerate(rows):
        line = first_line + offset
        missing = [c for c in ACTIVITY_COLUMNS if _optional_str(row.get(c)) is None]
        if missing:
            raise ToolError(f"row {line}: missing {', '.join(missing)}")
        quantity = _optional_float(row["quantity"], "quantity", line)
        records.append(
            ActivityRecord(
                date=str(row["date"]).strip(),
                category=str(row["category"]).strip(),
                quantity=quantity if quantity is not None else 0.0,
                unit=str(row["unit"]).strip(),
                site=_optional_str(row.get("site")),
                cost=_optional_float(row.get("cost"), "cost", line),
                region=_optional_str(row.get("region")),
                supplier_factor=_optional_float(
                    row.get("supplier_factor"), "supplier_factor", line
                ),
            )
        )
    return records
