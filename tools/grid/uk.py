"""GB National Grid ESO Carbon Intensity API client (``/intensity/{from}/{to}``).

Half-hourly periods ``{"from", "to", "intensity": {"forecast", "actual", "index"}}``; a
period without an actual uses the forecast and is flagged as one. The API serves at most
14 days per request, so longer ranges are fetched in chunks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tools.grid.http import get_json
from tools.grid.live import intensity_value, live_series
from tools.grid.model import GridDataError, GridSeries, IntensityPoint, Region

__all__ = ["UKCarbonIntensitySource"]

_CHUNK_DAYS = 14


class UKCarbonIntensitySource:
    """Live GB data, 30-minute points."""

    name = "uk"
    step_minutes = 30

    def __init__(
        self,
        base_url: str = "https://api.carbonintensity.org.uk",
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.25,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s

    def supports(self, region: Region) -> bool:
        return region == "gb"

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        if region != "gb":
            raise GridDataError("the GB Carbon Intensity API only covers region 'gb'")
        points: dict[datetime, IntensityPoint] = {}
        cursor = start
        while cursor <= end:
            chunk_end = min(end, cursor + timedelta(days=_CHUNK_DAYS - 1))
            url = (
                f"{self.base_url}/intensity/{cursor.isoformat()}T00:00Z/"
                f"{(chunk_end + timedelta(days=1)).isoformat()}T00:00Z"
            )
            payload = await get_json(
                url,
                {},
                source="GB Carbon Intensity API",
                timeout_s=self.timeout_s,
                retries=self.retries,
                backoff_s=self.backoff_s,
            )
            for point in self._parse(payload):
                points[point.ts] = point
            cursor = chunk_end + timedelta(days=1)
        return live_series(
            region,
            start,
            end,
            self.step_minutes,
            points,
            name="GB Carbon Intensity API (National Grid ESO)",
            detail="national intensity, 30-minute; forecast used where no actual exists",
            url=self.base_url,
        )

    def _parse(self, payload: Any) -> list[IntensityPoint]:
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise GridDataError("GB Carbon Intensity payload has no 'data' list")
        out: list[IntensityPoint] = []
        for index, item in enumerate(payload["data"]):
            where = f"GB Carbon Intensity item {index}"
            if not isinstance(item, dict) or not isinstance(item.get("intensity"), dict):
                raise GridDataError(f"{where} has no 'intensity' object")
            raw_from = item.get("from")
            if not isinstance(raw_from, str):
                raise GridDataError(f"{where} has no 'from' time")
            try:
                ts = datetime.fromisoformat(raw_from.replace("Z", "+00:00"))
            except ValueError as exc:
                raise GridDataError(f"{where}: bad 'from' time {raw_from!r}") from exc
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            actual = intensity_value(item["intensity"].get("actual"), f"{where} actual")
            forecast = intensity_value(item["intensity"].get("forecast"), f"{where} forecast")
            if actual is not None:
                out.append(IntensityPoint(ts, actual, False))
            elif forecast is not None:
                out.append(IntensityPoint(ts, forecast, True))
        return out
