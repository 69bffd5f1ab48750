"""Parse user uploads (CSV or JSON) into typed rows the footprint and analysis tools read.

Two kinds: ``activity_records`` (has date, category, quantity, unit) and ``numeric_table``
(anything with at least one numeric column). Bad rows fail with their line number; limits
are the caller's (the service passes its configured ``max_rows``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any, Literal

import msgspec

from tools.catalog_types import Dataset, ToolError
from tools.footprint.factors import default_factor_table
from tools.footprint.records import ACTIVITY_COLUMNS, records_from_rows

__all__ = ["ParsedUpload", "UploadError", "parse_upload"]

_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_NUMERIC_SHARE = 0.8  # a column this numeric is meant to be numeric: stray text is an error


class UploadError(ToolError):
    """The upload cannot be used; the message names the line and column at fault."""


class ParsedUpload(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["activity_records", "numeric_table"]
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]

    def to_dataset(self, dataset_id: str, name: str) -> Dataset:
        return Dataset(
            id=dataset_id, name=name, kind=self.kind, columns=self.columns, rows=self.rows
        )


def _column_name(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def _number(text: str) -> float | None:
    cleaned = text.strip()
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_csv(text: str, max_rows: int) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    blank = 0
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                blank += header is not None
                continue
            if header is None:
                header = [_column_name(f) for f in fields]
                continue
            if len(fields) != len(header):
                raise UploadError(f"line {line}: expected {len(header)} fields, got {len(fields)}")
            if len(rows) >= max_rows:
                raise UploadError(f"too many rows: the limit is {max_rows}")
            rows.append((line, fields))
    except csv.Error as exc:
        raise UploadError(f"line {reader.line_num}: malformed CSV ({exc})") from exc
    if header is None:
        raise UploadError("the file is empty: expected a header line and rows")
    return header, rows, blank


def _read_json(text: str, max_rows: int) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadError(f"line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UploadError('JSON upload must be a list of objects (or {"rows": [...]})')
    if len(data) > max_rows:
        raise UploadError(f"too many rows: the limit is {max_rows}")
    header: list[str] = []
    for item in data:
        for key in item:
            name = _column_name(str(key))
            if name not in header:
                header.append(name)
    rows: list[tuple[int, list[str]]] = []
    for index, item in enumerate(data, start=1):
        by_name = {_column_name(str(k)): v for k, v in item.items()}
        cells = ["" if by_name.get(c) is None else str(by_name[c]) for c in header]
        for column, value in by_name.items():
            if isinstance(value, dict | list):
                raise UploadError(f"row {index}: column {column!r} must be a plain value")
        rows.append((index, cells))
    return header, rows, 0


def _check_header(header: list[str]) -> None:
    if any(not name for name in header):
        raise UploadError("line 1: every column needs a name")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise UploadError(f"line 1: duplicate column {name!r}")
        seen.add(name)


def parse_upload(
    content: bytes, filename: str, max_rows: int, max_bytes: int | None = None
) -> ParsedUpload:
    """Parse ``content``; ``.json`` files as JSON, everything else as CSV (UTF-8, BOM ok)."""
    if max_bytes is not None and len(content) > max_bytes:
        raise UploadError(f"the file is {len(content):,} bytes; the limit is {max_bytes:,}")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    if filename.lower().endswith(".json"):
        header, raw_rows, blank = _read_json(text, max_rows)
    else:
        header, raw_rows, blank = _read_csv(text, max_rows)
    _check_header(header)
    if not raw_rows:
        raise UploadError("the file has a header but no data rows")
    warnings: list[str] = []
    if blank:
        warnings.append(f"{blank} blank line(s) skipped")
    if all(column in header for column in ACTIVITY_COLUMNS):
        return _activity(header, raw_rows, warnings)
    return _numeric(header, raw_rows, warnings)


def _activity(
    header: list[str], raw_rows: list[tuple[int, list[str]]], warnings: list[str]
) -> ParsedUpload:
    table = default_factor_table()
    known = set(table.categories())
    rows: list[dict[str, Any]] = []
    unknown: dict[str, int] = {}
    for line, fields in raw_rows:
        cells = dict(zip(header, fields, strict=True))
        try:
            record = records_from_rows([cells], first_line=line)[0]
        except ToolError as exc:
            raise UploadError(str(exc).replace("row ", "line ", 1)) from exc
        try:
            table.canonical_category(record.category)
        except ToolError:
            unknown.setdefault(record.category, line)
        row: dict[str, Any] = {c: (v.strip() or None) for c, v in cells.items()}
        row["quantity"] = record.quantity
        row["cost"] = record.cost
        if "supplier_factor" in row:
            row["supplier_factor"] = record.supplier_factor
        rows.append(row)
    for category, line in sorted(unknown.items(), key=lambda kv: kv[1]):
        warnings.append(
            f"line {line}: category {category!r} has no packaged emission factor "
            f"(known: {', '.join(sorted(known))})"
        )
    return ParsedUpload(
        kind="activity_records", columns=tuple(header), rows=tuple(rows), warnings=tuple(warnings)
    )


def _numeric(
    header: list[str], raw_rows: list[tuple[int, list[str]]], warnings: list[str]
) -> ParsedUpload:
    numeric: list[str] = []
    for index, column in enumerate(header):
        filled = [(line, fields[index]) for line, fields in raw_rows if fields[index].strip()]
        if not filled:
            continue
        bad = [(line, value) for line, value in filled if _number(value) is None]
        if not bad:
            numeric.append(column)
        elif len(filled) - len(bad) >= _NUMERIC_SHARE * len(filled):
            shown = ", ".join(f"line {line}: {value!r}" for line, value in bad[:5])
            raise UploadError(f"column {column!r} is numeric but has non-numbers ({shown})")
    if not numeric:
        raise UploadError(
            "no numeric column found; upload activity records (date, category, quantity, unit) "
            "or a table with at least one numeric column"
        )
    rows: list[dict[str, Any]] = []
    for _line, fields in raw_rows:
        row: dict[str, Any] = {}
        for column, value in zip(header, fields, strict=True):
            if not value.strip():
                row[column] = None
            elif column in numeric:
                row[column] = _number(value)
            else:
                row[column] = value.strip()
        rows.append(row)
    text_columns = [c for c in header if c not in numeric]
    if text_columns:
        warnings.append(f"text columns: {', '.join(text_columns)}")
    return ParsedUpload(
        kind="numeric_table", columns=tuple(header), rows=tuple(rows), warnings=tuple(warnings)
    )
