"""EirGrid Smart Grid Dashboard client (Republic of Ireland, Northern Ireland, all-island).

Two endpoint styles return the same ``{"Rows": [{"EffectiveTime", "FieldName", "Value"}]}``
payload: the ``legacy`` DashboardService (``/DashboardService.svc/data?area=co2intensity``,
the predecessor's) and the newer ``chart`` API (``/api/chart/?chartType=co2&areas=...``).
EffectiveTime is Irish local time ("26-Nov-2026 13:15:00"); it is converted to UTC, with the
repeated hour at the end of summer time resolved by order of appearance.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tools.grid.http import get_json
from tools.grid.live import intensity_value, live_series
from tools.grid.model import GridDataError, GridSeries, IntensityPoint, Region

__all__ = ["EirGridSource"]

_AREA_REGION: dict[Region, str] = {"all": "ALL", "ie": "ROI", "ni": "NI"}
_DUBLIN = ZoneInfo("Europe/Dublin")


def _dashboard_date(day: date) -> str:
    return day.strftime("%d-%b-%Y")


class EirGridSource:
    """Live EirGrid data; 15-minute points. Forecast rows are flagged as forecasts."""

    name = "eirgrid"
    step_minutes = 15

    def __init__(
        self,
        base_url: str = "https://www.smartgriddashboard.com",
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        api: Literal["legacy", "chart"] = "legacy",
        backoff_s: float = 0.25,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.api = api
        self.backoff_s = backoff_s

    def supports(self, region: Region) -> bool:
        return region in _AREA_REGION

    async def _rows(self, region: Region, start: date, end: date, area: str) -> list[Any]:
        frm, to = f"{_dashboard_date(start)} 00:00", f"{_dashboard_date(end)} 23:59"
        if self.api == "legacy":
            url = f"{self.base_url}/DashboardService.svc/data"
            params = {"area": area, "region": _AREA_REGION[region], "datefrom": frm, "dateto": to}
        else:
            url = f"{self.base_url}/api/chart/"
            params = {
                "region": _AREA_REGION[region],
                "chartType": "co2",
                "dateRange": "day",
                "dateFrom": frm,
                "dateTo": to,
                "areas": area,
            }
        payload = await get_json(
            url,
            params,
            source="EirGrid",
            timeout_s=self.timeout_s,
            retries=self.retries,
            backoff_s=self.backoff_s,
        )
        if not isinstance(payload, dict):
            raise GridDataError("EirGrid payload is not a JSON object")
        rows = payload.get("Rows")
        if not isinstance(rows, list):
            raise GridDataError("EirGrid payload has no 'Rows' list")
        return rows

    async def fetch(self, region: Region, start: date, end: date, now: datetime) -> GridSeries:
        chunk = timedelta(days=0 if self.api == "chart" else 30)
        points: dict[datetime, IntensityPoint] = {}
        # Local (Irish) days: in summer the last UTC hour of ``end`` is the next local day.
        last_local = end + timedelta(days=1)
        cursor = start
        while cursor <= last_local:
            chunk_end = min(last_local, cursor + chunk)
            for row in self._parse(await self._rows(region, cursor, chunk_end, "co2intensity")):
                points[row.ts] = row
            if chunk_end >= now.date():
                forecast = await self._rows(region, cursor, chunk_end, "co2intensityforecast")
                for row in self._parse(forecast, force_forecast=True):
                    # A measured value always wins over a forecast for the same slot.
                    points.setdefault(row.ts, row)
            cursor = chunk_end + timedelta(days=1)
        return live_series(
            region,
            start,
            end,
            self.step_minutes,
            points,
            name="EirGrid Smart Grid Dashboard",
            detail=f"CO2 intensity, region {_AREA_REGION[region]}, 15-minute",
            url=self.base_url,
        )

    def _parse(self, rows: list[Any], force_forecast: bool = False) -> list[IntensityPoint]:
        seen_local: set[datetime] = set()
        out: list[IntensityPoint] = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise GridDataError(f"EirGrid row {index} is not an object")
            raw_time, value = row.get("EffectiveTime"), row.get("Value")
            if not isinstance(raw_time, str):
                raise GridDataError(f"EirGrid row {index} has no EffectiveTime")
            try:
                local = datetime.strptime(raw_time.strip(), "%d-%b-%Y %H:%M:%S")
            except ValueError as exc:
                raise GridDataError(f"EirGrid row {index}: bad EffectiveTime {raw_time!r}") from exc
            intensity = intensity_value(value, f"EirGrid row {index}: Value")
            if intensity is None:
                continue  # slots not yet published
            field = str(row.get("FieldName") or "").lower()
            forecast = force_forecast or "forecast" in field
            fold = 1 if local in seen_local else 0
            seen_local.add(local)
            ts = local.replace(tzinfo=_DUBLIN, fold=fold).astimezone(UTC)
            out.append(IntensityPoint(ts, intensity, forecast))
        return out
