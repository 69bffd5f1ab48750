"""Each region's local time: users' days, hours and displayed times are local, data stays UTC.

Data points are UTC instants throughout (the model and the sources). What a user means by
"tomorrow" or "after 6pm", and what a report shows, is the region's local time: Europe/Dublin
for the island, Europe/London for Great Britain. A local day is 23 or 25 hours long on the
days the clocks change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tools.grid.model import Region

__all__ = [
    "REGION_TIMEZONES",
    "local_bounds",
    "local_date",
    "local_iso",
    "local_span",
    "local_stamp",
    "local_times",
    "region_zone",
    "utc_days",
]

REGION_TIMEZONES: dict[Region, str] = {
    "ie": "Europe/Dublin",
    "all": "Europe/Dublin",
    "ni": "Europe/London",
    "gb": "Europe/London",
}


def region_zone(region: Region) -> ZoneInfo:
    """The IANA time zone users of ``region`` live in."""
    return ZoneInfo(REGION_TIMEZONES[region])


def local_bounds(zone: ZoneInfo, start: date, end: date) -> tuple[datetime, datetime]:
    """UTC instants bounding local days ``start``..``end``: [start 00:00, day after end 00:00)."""
    first = datetime.combine(start, time(), tzinfo=zone).astimezone(UTC)
    last = datetime.combine(end + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return first, last


def utc_days(zone: ZoneInfo, start: date, end: date) -> tuple[date, date]:
    """The UTC days a source must deliver to cover local days ``start``..``end``."""
    first, last = local_bounds(zone, start, end)
    return first.date(), (last - timedelta(microseconds=1)).date()


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The local calendar day ``moment`` falls on."""
    return moment.astimezone(zone).date()


def local_iso(moment: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 local time with its UTC offset, e.g. ``2026-07-15T03:15:00+01:00``."""
    return moment.astimezone(zone).isoformat()


def local_stamp(moment: datetime, zone: ZoneInfo) -> str:
    """``2026-07-15 03:15 IST (02:15 UTC)``; one time when local time is UTC (winter)."""
    local = moment.astimezone(zone)
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    if local.utcoffset():
        text += f" ({moment.astimezone(UTC):%H:%M} UTC)"
    return text


def local_times(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """``03:15-07:15 IST (02:15-06:15 UTC)``; in winter ``02:15-06:15 GMT``.

    The end is written as a time only, with its date too when it is a day or more later.
    """
    first, last = start.astimezone(zone), end.astimezone(zone)
    if last.date() == first.date() or end - start < timedelta(days=1):
        end_text = f"{last:%H:%M}"
    else:
        end_text = f"{last:%Y-%m-%d %H:%M}"
    names = str(first.tzname())
    if last.tzname() != first.tzname():
        names += f"/{last.tzname()}"
    text = f"{first:%H:%M}-{end_text} {names}"
    if first.utcoffset() or last.utcoffset():
        text += f" ({start.astimezone(UTC):%H:%M}-{end.astimezone(UTC):%H:%M} UTC)"
    return text


def local_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """``2026-07-15 03:15-07:15 IST (02:15-06:15 UTC)``: the local day, then
    :func:`local_times`."""
    return f"{start.astimezone(zone):%Y-%m-%d} {local_times(start, end, zone)}"
