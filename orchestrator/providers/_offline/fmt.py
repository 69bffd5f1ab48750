"""Number and time formatting for the offline engine's text.

These are the ONLY ways a number reaches the offline engine's prose, and each is a plain
rounding of a tool value (documented in docs/offline-engine.md; the golden tests
check every number of a report against the tool outputs with these same rules).
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tools.grid.zones import local_span, local_stamp, local_times

__all__ = [
    "day",
    "hhmm",
    "intensity",
    "kg",
    "num",
    "parse",
    "pct",
    "signed_pct",
    "stamp",
    "times",
    "tonnes",
    "value",
    "when",
    "zone",
]

_UTC = ZoneInfo("UTC")


def num(value: float, decimals: int = 0) -> str:
    """``value`` rounded to ``decimals`` places, thousands separated."""
    return f"{value:,.{decimals}f}"


def value(number: float) -> str:
    """A general quantity: whole numbers from 100 up, two decimals from 1, else three."""
    if abs(number) >= 100:
        return num(number)
    if abs(number) >= 1:
        return num(number, 2)
    return num(number, 3)


def intensity(value: float) -> str:
    """A grid intensity: whole gCO2/kWh."""
    return f"{value:,.0f} gCO2/kWh"


def pct(value: float) -> str:
    return f"{value:.1f}%"


def signed_pct(value: float) -> str:
    return f"{value:+.1f}%"


def kg(value: float) -> str:
    """kgCO2e: whole kilograms from 100 kg up, one decimal below."""
    return f"{value:,.0f} kgCO2e" if abs(value) >= 100 else f"{value:,.1f} kgCO2e"


def tonnes(value_kg: float) -> str:
    """kgCO2e shown as tonnes (value / 1000, one decimal), the one documented unit change."""
    tonnes = value_kg / 1000
    return f"{tonnes:,.1f} tCO2e" if abs(tonnes) >= 0.1 or tonnes == 0 else f"{tonnes:,.3f} tCO2e"


def parse(value: str | datetime) -> datetime:
    """An ISO timestamp from a tool output (``Z`` accepted)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def zone(name: object) -> ZoneInfo:
    """The IANA zone a grid tool output names in ``timezone`` (UTC when absent or unknown)."""
    if isinstance(name, str) and name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(name)
    return _UTC


def hhmm(value: str | datetime, tz: ZoneInfo | None = None) -> str:
    """``HH:MM``, in ``tz`` when given (else as the timestamp reads)."""
    moment = parse(value)
    return (moment if tz is None else moment.astimezone(tz)).strftime("%H:%M")


def day(value: str | datetime, tz: ZoneInfo) -> date:
    """The local calendar day of a timestamp."""
    return parse(value).astimezone(tz).date()


def stamp(value: str | datetime, tz: ZoneInfo | None = None) -> str:
    """``2026-03-19 13:30 GMT``; ``2026-07-15 03:15 IST (02:15 UTC)`` when local time is not
    UTC. Without ``tz``: ``2026-03-19 13:30 UTC``."""
    return local_stamp(parse(value), tz or _UTC)


def times(start: str | datetime, end: str | datetime, tz: ZoneInfo) -> str:
    """``03:15-07:15 IST (02:15-06:15 UTC)``; in winter ``02:15-06:15 GMT``."""
    return local_times(parse(start), parse(end), tz)


def when(start: str | datetime, end: str | datetime, tz: ZoneInfo) -> str:
    """``2026-07-15 03:15-07:15 IST (02:15-06:15 UTC)``: the local day, then :func:`times`."""
    return local_span(parse(start), parse(end), tz)
