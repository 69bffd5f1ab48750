"""Parse user uploads (CSV or JSON) into typed rows the footprint and analysis tools read.

Two kinds: ``activity_records`` (has date, category, quantity, unit) and ``numeric_table``
(anything with at least one numeric column). Bad rows fail with their line number.

An upload comes from anyone with an account, so parsing must cost time in proportion to the
file, whatever its shape: every step is linear in the number of cells (columns are looked up
in dicts and sets, never in lists), and :class:`UploadLimits` caps what a small file could
still blow up — the number of columns, the length of one cell, the table's cells (rows x
columns: a sparse JSON file names a new column in each row), the nesting of a JSON file —
plus a CPU-time budget (the calling thread's CPU time, checked as rows and columns go by),
so a parse that runs in a worker thread ends with :class:`UploadError` instead of holding a
core. JSON is decoded by :mod:`tools.untrusted_json` (depth, encoding, NUL, huge numbers).
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from typing import Any, Literal

import msgspec

from tools.catalog_types import Dataset, ToolError
from tools.footprint.factors import default_factor_table
from tools.footprint.records import ACTIVITY_COLUMNS, records_from_rows
from tools.untrusted_json import RejectedJSON, decode_untrusted_json

__all__ = ["ParsedUpload", "UploadError", "UploadLimits", "parse_upload"]

_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_MALFORMED_AT_BYTE = re.compile(r"\(byte (\d+)\)$")
_NUMERIC_SHARE = 0.8  # a column this numeric is meant to be numeric: stray text is an error
_BUDGET_EVERY = 64  # rows (or columns) between two looks at the CPU clock


class UploadError(ToolError):
    """The upload cannot be used; the message names the line and column at fault."""


class UploadLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What one upload may hold besides its rows (the defaults are the service's).

    ``cpu_budget_s`` is the CPU time (of the parsing thread) a parse may use; None: no budget.
    """

    max_columns: int = 1_000
    max_cell_chars: int = 10_000
    max_cells: int = 2_000_000
    max_json_depth: int = 8
    cpu_budget_s: float | None = None


class ParsedUpload(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["activity_records", "numeric_table"]
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]

    def to_dataset(self, dataset_id: str, name: str) -> Dataset:
        return Dataset(
            id=dataset_id, name=name, kind=self.kind, columns=self.columns, rows=self.rows
        )


class _Budget:
    """The parse's CPU-time allowance, read from this thread's CPU clock every few steps."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.thread_time() + seconds
        self.steps = 0

    def tick(self) -> None:
        if self.deadline is None:
            return
        self.steps += 1
        if self.steps % _BUDGET_EVERY == 0 and time.thread_time() > self.deadline:
            raise UploadError(
                f"parsing the file took more than its CPU-time budget of {self.seconds:g} s; "
                "upload a smaller or narrower file"
            )


class _Caps:
    """One parse's caps and CPU budget, with the checks both formats share."""

    def __init__(self, max_rows: int, limits: UploadLimits) -> None:
        self.max_rows = max_rows
        self.limits = limits
        self.budget = _Budget(limits.cpu_budget_s)

    def check_width(self, columns: int) -> None:
        if columns > self.limits.max_columns:
            raise UploadError(
                f"too many columns: the limit is {self.limits.max_columns:,} (got {columns:,})"
            )

    def check_cells(self, rows: int, columns: int) -> None:
        if rows > self.max_rows:
            raise UploadError(f"too many rows: the limit is {self.max_rows}")
        if rows * columns > self.limits.max_cells:
            raise UploadError(
                f"too many cells: {rows:,} rows x {columns:,} columns is more than the "
                f"limit of {self.limits.max_cells:,}"
            )

    def check_cell_length(self, where: str, fields: list[str]) -> None:
        longest = max(map(len, fields), default=0)
        if longest > self.limits.max_cell_chars:
            raise UploadError(
                f"{where}: a cell has {longest:,} characters; the limit is "
                f"{self.limits.max_cell_chars:,}"
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


def _read_csv(text: str, caps: _Caps) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    blank = 0
    try:
        for fields in reader:
            line = reader.line_num
            caps.budget.tick()
            if not any(f.strip() for f in fields):
                blank += header is not None
                continue
            caps.check_cell_length(f"line {line}", fields)
            if header is None:
                caps.check_width(len(fields))
                header = [_column_name(f) for f in fields]
                continue
            if len(fields) != len(header):
                raise UploadError(f"line {line}: expected {len(header)} fields, got {len(fields)}")
            caps.check_cells(len(rows) + 1, len(header))
            rows.append((line, fields))
    except csv.Error as exc:
        raise UploadError(f"line {reader.line_num}: malformed CSV ({exc})") from exc
    if header is None:
        raise UploadError("the file is empty: expected a header line and rows")
    return header, rows, blank


def _json_line(content: bytes, reason: str) -> str:
    """``line N: `` for a decoder message that names a byte offset, else nothing."""
    match = _MALFORMED_AT_BYTE.search(reason)
    if match is None:
        return "line 1: " if len(content.splitlines()) <= 1 else ""
    line = content[: int(match[1])].count(b"\n") + 1
    return f"line {line}: "


def _read_json(content: bytes, caps: _Caps) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    try:
        data = decode_untrusted_json(content, max_depth=caps.limits.max_json_depth)
    except RejectedJSON as exc:
        where = _json_line(content, exc.reason) if exc.malformed else ""
        raise UploadError(f"{where}invalid JSON ({exc.reason})") from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UploadError('JSON upload must be a list of objects (or {"rows": [...]})')
    if len(data) > caps.max_rows:
        raise UploadError(f"too many rows: the limit is {caps.max_rows}")
    # Insertion-ordered dict as an ordered set: one lookup per key, not one scan per key.
    seen: dict[str, None] = {}
    named: list[dict[str, Any]] = []
    for index, item in enumerate(data, start=1):
        caps.budget.tick()
        by_name: dict[str, Any] = {}
        for key, value in item.items():
            name = _column_name(key)
            if isinstance(value, dict | list):
                raise UploadError(f"row {index}: column {name!r} must be a plain value")
            by_name[name] = value
            seen[name] = None
        caps.check_width(len(seen))
        named.append(by_name)
    header = list(seen)
    caps.check_cells(len(named), len(header))
    rows: list[tuple[int, list[str]]] = []
    for index, by_name in enumerate(named, start=1):
        caps.budget.tick()
        cells = ["" if by_name.get(c) is None else str(by_name[c]) for c in header]
        caps.check_cell_length(f"row {index}", cells)
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
    content: bytes,
    filename: str,
    max_rows: int,
    max_bytes: int | None = None,
    *,
    limits: UploadLimits | None = None,
) -> ParsedUpload:
    """Parse ``content``; ``.json`` files as JSON, everything else as CSV (UTF-8, BOM ok)."""
    if max_bytes is not None and len(content) > max_bytes:
        raise UploadError(f"the file is {len(content):,} bytes; the limit is {max_bytes:,}")
    caps = _Caps(max_rows, limits or UploadLimits())
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise UploadError(f"line {line}: the file contains a NUL character, which text cannot hold")
    if filename.lower().endswith(".json"):
        header, raw_rows, blank = _read_json(content.removeprefix(b"\xef\xbb\xbf"), caps)
    else:
        header, raw_rows, blank = _read_csv(text, caps)
    _check_header(header)
    if not raw_rows:
        raise UploadError("the file has a header but no data rows")
    warnings: list[str] = []
    if blank:
        warnings.append(f"{blank} blank line(s) skipped")
    if set(ACTIVITY_COLUMNS).issubset(header):
        return _activity(header, raw_rows, warnings, caps.budget)
    return _numeric(header, raw_rows, warnings, caps.budget)


def _activity(
    header: list[str], raw_rows: list[tuple[int, list[str]]], warnings: list[str], budget: _Budget
) -> ParsedUpload:
    table = default_factor_table()
    known = set(table.categories())
    rows: list[dict[str, Any]] = []
    unknown: dict[str, int] = {}
    for line, fields in raw_rows:
        budget.tick()
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
    header: list[str], raw_rows: list[tuple[int, list[str]]], warnings: list[str], budget: _Budget
) -> ParsedUpload:
    numeric: set[str] = set()
    for index, column in enumerate(header):
        budget.tick()
        filled = [(line, fields[index]) for line, fields in raw_rows if fields[index].strip()]
        if not filled:
            continue
        bad = [(line, value) for line, value in filled if _number(value) is None]
        if not bad:
            numeric.add(column)
        elif len(filled) - len(bad) >= _NUMERIC_SHARE * len(filled):
            shown = ", ".join(f"line {line}: {value!r}" for line, value in bad[:5])
            raise UploadError(f"column {column!r} is numeric but has non-numbers ({shown})")
    if not numeric:
        raise UploadError(
            "no numeric column found; upload activity records (date, category, quantity, unit) "
            "or a table with at least one numeric column"
        )
    is_numeric = [column in numeric for column in header]
    rows: list[dict[str, Any]] = []
    for _line, fields in raw_rows:
        budget.tick()
        row: dict[str, Any] = {}
        for column, value, as_number in zip(header, fields, is_numeric, strict=True):
            if not value.strip():
                row[column] = None
            elif as_number:
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
