"""What in a question cannot be answered as written: dates that name no real day, and places
no grid region here covers. Each is named to the user (with a suggestion), never replaced by
today or the default region.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from orchestrator.providers._offline.extract import MONTH_PATTERN, MONTHS

__all__ = ["InvalidDate", "invalid_dates", "unknown_places"]


@dataclass(frozen=True, slots=True)
class InvalidDate:
    """A date the user wrote that does not exist, with what they may have meant."""

    phrase: str
    message: str


def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _invalid(phrase: str, year: int, month: int, day: int) -> InvalidDate | None:
    if not 1 <= month <= 12:
        return InvalidDate(
            phrase, f"'{phrase}' is not a valid date: there is no month {month} (months are 1-12)"
        )
    last = _month_days(year, month)
    if not 1 <= day <= last:
        name = calendar.month_name[month]
        suggestion = date(year, month, last).isoformat()
        return InvalidDate(
            phrase,
            f"'{phrase}' is not a valid date: {name} {year} has {last} days "
            f"(did you mean {suggestion}?)",
        )
    return None


def invalid_dates(text: str, today: date) -> list[InvalidDate]:
    """Dates written in a valid shape that name no real day ("2025-02-30", "31 April")."""
    out: list[InvalidDate] = []
    for m in re.finditer(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", text):
        bad = _invalid(m.group(0), int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if bad is not None:
            out.append(bad)
    for m in re.finditer(r"\b(\d{4})-(\d{2})\b(?!-)", text):
        bad = _invalid(m.group(0), int(m.group(1)), int(m.group(2)), 1)
        if bad is not None:
            out.append(bad)
    for m in re.finditer(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", text):
        bad = _invalid(m.group(0), int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if bad is not None:
            out.append(bad)
    day_month = r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + MONTH_PATTERN + r"(?:,?\s+(\d{4}))?\b"
    month_day = r"\b" + MONTH_PATTERN + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?"
    for pattern, day_group, month_group in ((day_month, 1, 2), (month_day, 2, 1)):
        for m in re.finditer(pattern, text, re.IGNORECASE):
            year = int(m.group(3)) if m.group(3) else today.year
            month = MONTHS[m.group(month_group).lower()]
            bad = _invalid(m.group(0).strip(), year, month, int(m.group(day_group)))
            if bad is not None:
                out.append(bad)
    return out


# Places people ask about that this product has no grid data or factors for.
_FOREIGN = (
    "france|paris|germany|berlin|munich|spain|madrid|barcelona|italy|rome|milan|portugal|"
    "lisbon|netherlands|amsterdam|belgium|brussels|denmark|copenhagen|sweden|stockholm|"
    "norway|oslo|finland|poland|warsaw|austria|vienna|switzerland|zurich|geneva|greece|athens|"
    "usa|united states|america|new york|california|texas|chicago|boston|canada|toronto|"
    "australia|sydney|melbourne|india|delhi|mumbai|china|beijing|shanghai|japan|tokyo|"
    "brazil|mexico|south africa|iceland|reykjavik|luxembourg|czechia|prague|hungary|budapest"
)
_FOREIGN_RE = re.compile(r"\b(" + _FOREIGN + r")\b", re.IGNORECASE)


def unknown_places(text: str) -> list[str]:
    """Places named in ``text`` that no grid region here covers (as written)."""
    return list(dict.fromkeys(m.group(1) for m in _FOREIGN_RE.finditer(text)))
