"""Number and time formatting for the offline engine's text.

These are the ONLY ways a number reaches the offline engine's prose, and each is a plain
rounding of a tool value (documented in README.md ("The offline engine"); the golden tests
check every number of a report against the tool outputs with these same rules).
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "hhmm",
    "intensity",
    "kg",
    "num",
    "parse",
    "pct",
    "signed_pct",
    "stamp",
    "tonnes",
    "value",
]


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
    return f"{value_kg / 1000:,.1f} tCO2e"


def parse(value: str | datetime) -> datetime:
    """An ISO timestamp from a tool output (``Z`` accepted)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def hhmm(value: str | datetime) -> str:
    return parse(value).strftime("%H:%M")


def stamp(value: str | datetime) -> str:
    """``2026-03-19 13:30 UTC`` (tools work in UTC; the text says so)."""
    return parse(value).strftime("%Y-%m-%d %H:%M UTC")
