"""A grid series the user supplies as a file: CSV ``timestamp,value[,is_forecast][,region]``
or JSON (a list of such objects, or ``{"points": [...]}``). Timestamps are ISO 8601; naive
ones are UTC. Without a region column the series serves every region, and says so."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tools.catalog_types import DataSource
from tools.grid.model import REGIONS, GridDataError, GridSeries, IntensityPoint, Region

__all__ = ["FileGridSource", "parse_series_file"]

_TRUE = {"1", "true", "yes", "y", "forecast"}
_FALSE = {"", "0", "false", "no", "n", "actual"}


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise GridDataError(f"{where}: is_forecast must be true/false, got {value!r}")


def _row(raw: dict[str, Any], where: str) -> tuple[Region | None, IntensityPoint]:
    stamp, value = raw.get("timestamp"), raw.get("value")
    if not isinstance(stamp, str) or not stamp.strip():
        raise GridDataError(f"{where}: missing timestamp")
    try:
        ts = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise GridDataError(f"{where}: bad timestamp {stamp!r}") from exc
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    number = math.nan
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    if not math.isfinite(number) or number < 0:
        raise GridDataError(f"{where}: value must be a non-negative number, got {value!r}")
    region_raw = str(raw.get("region") or "").strip().lower()
    region: Region | None = None
    if region_raw:
        region = next((r for r in REGIONS if r == region_raw), None)
        if region is None:
            raise GridDataError(f"{where}: unknown region {region_raw!r}")
    return region, IntensityPoint(ts, number, _flag(raw.get("is_forecast"), where))


def parse_series_file(text: str, filename: str) -> list[tuple[Region | None, IntensityPoint]]:
    """Validated rows of a series file; errors name the line (CSV) or item (JSON)."""
    rows: list[tuple[Region | None, IntensityPoint]] = []
    if filename.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GridDataError(f"{filename}: invalid JSON at line {exc.lineno}") from exc
        if isinstance(data, dict):
            data = data.get("points")
        if not isinstance(data, list):
            raise GridDataError(f'{filename}: expected a list of points or {{"points": [...]}}')
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise GridDataError(f"{filename} item {index}: not an object")
            rows.append(_row(item, f"{filename} item {index}"))
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"timestamp", "value"} <= {
        f.strip().lower() for f in reader.fieldnames
    }:
        raise GridDataError(f"{filename}: CSV header must include timestamp,value")
    for record in reader:
        cleaned = {(k or "").strip().lower(): v for k, v in record.items()}
        rows.append(_row(cleaned, f"{filename} line {reader.line_num}"))
    return rows


class FileGridSource:
    """Serves a user's series file; re-reads it when the file changes on disk."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._loaded: tuple[float, list[tuple[Region | None, IntensityPoint]]] | None = None

    def _rows(self) -> list[tuple[Region | None, IntensityPoint]]:
        try:
            mtime = self.path.stat().st_mtime
            if self._loaded is None or self._loaded[0] != mtime:
                text = self.path.read_text(encoding="utf-8-sig")
                self._loaded = (mtime, parse_series_file(text, self.path.name))
        except OSError as exc:
            raise GridDataError(f"cannot read grid file {self.path}: {exc.strerror}") from exc
        return self._loaded[1]

    def supports(self, region: Region) -> bool:
        return True

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        rows = self._rows()
        has_regions = any(r is not None for r, _ in rows)
        chosen = sorted(
            (
                p
                for r, p in rows
                if (r == region or not has_regions) and start <= p.ts.date() <= end
            ),
            key=lambda p: p.ts,
        )
        gaps = {int((b.ts - a.ts).total_seconds() // 60) for a, b in itertools.pairwise(chosen)}
        step = min((g for g in gaps if g > 0), default=60)
        scope = (
            f"region {region}" if has_regions else "no region column: same series for every region"
        )
        return GridSeries(
            region=region,
            start=start,
            end=end,
            step_minutes=step,
            points=tuple(chosen),
            source=DataSource(
                name=f"grid file {self.path.name}",
                kind="grid_intensity",
                synthetic=False,
                detail=f"user-supplied series ({scope})",
            ),
        )
