"""Parameter extraction for the offline engine: dates, regions, durations, company profiles.

A real model reads these from the question; the offline engine uses explicit, documented
rules instead so that the same question always gives the same tool arguments. Every function
is pure and takes "now" as an argument (tests pin it).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from tools.grid.model import REGION_NAMES as GRID_REGION_NAMES
from tools.grid.zones import REGION_TIMEZONES as GRID_TIMEZONES

__all__ = [
    "APPLIANCES",
    "DEFAULT_DURATION_H",
    "DEFAULT_LEVERS",
    "DEFAULT_REGION",
    "MONTHS",
    "MONTH_PATTERN",
    "REGION_NAMES",
    "REGION_TIMEZONES",
    "CompanyProfile",
    "DateRange",
    "Duration",
    "HourBounds",
    "Levers",
    "extract_appliance",
    "extract_category",
    "extract_dates",
    "extract_duration",
    "extract_energy_kwh",
    "extract_hours",
    "extract_levers",
    "extract_profile",
    "extract_regions",
    "hours_label",
    "is_past_tense",
    "parse_number_word",
]

DEFAULT_REGION = "ie"
DEFAULT_DURATION_H = 3.0

# The grid tools' own names and zones (one table each, in ``tools.grid``): the engine's
# text names a region exactly as the tools' results do.
REGION_NAMES: dict[str, str] = {str(region): name for region, name in GRID_REGION_NAMES.items()}
# "today", weekday names and hours like "after 6pm" are read in the region's local time.
REGION_TIMEZONES: dict[str, str] = {str(region): zone for region, zone in GRID_TIMEZONES.items()}


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of calendar days, with the words the user used for it."""

    start: date
    end: date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def describe(self) -> str:
        """A label that always states the concrete dates (so the reader can check them)."""
        if self.start == self.end:
            concrete = f"{self.start.isoformat()} ({self.start.strftime('%A')})"
        else:
            concrete = f"{self.start.isoformat()} to {self.end.isoformat()}"
        if self.label in (self.start.isoformat(), concrete):
            return concrete
        return f"{self.label}, {concrete}"


@dataclass(frozen=True, slots=True)
class Duration:
    hours: float
    reason: str  # "3 hours" as written, "dishwasher (typical cycle)", or "default"


@dataclass(frozen=True, slots=True)
class CompanyProfile:
    """What the user said about a company; ``None`` means "not stated"."""

    sector: str | None = None
    employees: int | None = None
    sites: int | None = None
    fleet_vehicles: int | None = None
    fleet_fuel: str | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.sector is None
            and self.employees is None
            and self.sites is None
            and self.fleet_vehicles is None
        )


# ------------------------------------------------------------------------------- numbers

_NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
}
_NUM = r"(\d[\d,]*(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"


def parse_number_word(token: str) -> float | None:
    """``"12"``, ``"1,200"``, ``"2.5"`` or a small number word → its value."""
    token = token.lower().replace(",", "")
    if token in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[token])
    try:
        return float(token)
    except ValueError:
        return None


# --------------------------------------------------------------------------------- dates

MONTHS: dict[str, int] = {}
for _i, _name in enumerate(calendar.month_name):
    if _name:
        MONTHS[_name.lower()] = _i
        MONTHS[_name[:3].lower()] = _i
MONTHS["sept"] = 9
MONTH_PATTERN = r"(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAYS = [d.lower() for d in calendar.day_name]
_WEEKDAY = r"(" + "|".join(_WEEKDAYS) + r")"
_PAST_WORDS = re.compile(
    r"\b(was|were|did|had|been|happened|used|last|yesterday|ago|previous)\b", re.IGNORECASE
)


def is_past_tense(text: str) -> bool:
    """Whether the question looks back in time (decides which "Monday" or "March" is meant)."""
    return _PAST_WORDS.search(text) is not None


def _month_range(year: int, month: int, label: str, today: date) -> DateRange:
    last = calendar.monthrange(year, month)[1]
    end = date(year, month, last)
    if year == today.year and month == today.month:
        end = today
    return DateRange(date(year, month, 1), end, label)


def _quarter(year: int, q: int, label: str, today: date) -> DateRange:
    first = date(year, 3 * q - 2, 1)
    last = date(year, 3 * q, calendar.monthrange(year, 3 * q)[1])
    return DateRange(first, min(last, today) if first <= today else last, label)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    end: int
    range: DateRange


def _relative(text: str, today: date) -> list[_Mention]:
    out: list[_Mention] = []
    monday = today - timedelta(days=today.weekday())
    table: list[tuple[str, date, date, str]] = [
        (r"\bday before yesterday\b", today - timedelta(2), today - timedelta(2), "two days ago"),
        (
            r"\bday after tomorrow\b",
            today + timedelta(2),
            today + timedelta(2),
            "day after tomorrow",
        ),
        (
            r"\b(?:today|tonight|right now|now|this (?:morning|afternoon|evening))\b",
            today,
            today,
            "today",
        ),
        (r"\btomorrow\b", today + timedelta(1), today + timedelta(1), "tomorrow"),
        (r"\byesterday\b", today - timedelta(1), today - timedelta(1), "yesterday"),
        (
            r"\b(?:last|previous) week\b",
            monday - timedelta(7),
            monday - timedelta(1),
            "last week",
        ),
        (r"\bthis week\b", monday, today, "this week so far"),
        (r"\bnext week\b", monday + timedelta(7), monday + timedelta(13), "next week"),
        (
            r"\b(?:past|last) (?:7|seven) days\b|\bpast week\b",
            today - timedelta(7),
            today - timedelta(1),
            "the past 7 days",
        ),
        (
            r"\bthis weekend\b",
            monday + timedelta(5),
            monday + timedelta(6),
            "this weekend",
        ),
        (
            r"\blast weekend\b",
            monday - timedelta(2),
            monday - timedelta(1),
            "last weekend",
        ),
    ]
    for pattern, start, end, label in table:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            out.append(_Mention(m.start(), m.end(), DateRange(start, end, label)))
    for m in re.finditer(r"\b(?:past|last) (\d{1,3}) days\b", text, re.IGNORECASE):
        n = int(m.group(1))
        if 1 <= n <= 366 and n != 7:
            out.append(
                _Mention(
                    m.start(),
                    m.end(),
                    DateRange(today - timedelta(n), today - timedelta(1), f"the past {n} days"),
                )
            )
    year_start = date(today.year, 1, 1)
    for m in re.finditer(r"\b(?:last|previous) year\b", text, re.IGNORECASE):
        last = today.year - 1
        out.append(
            _Mention(m.start(), m.end(), DateRange(date(last, 1, 1), date(last, 12, 31), str(last)))
        )
    for m in re.finditer(r"\bthis year\b|\byear to date\b|\bytd\b", text, re.IGNORECASE):
        out.append(_Mention(m.start(), m.end(), DateRange(year_start, today, "this year so far")))
    quarter = (today.month - 1) // 3
    for m in re.finditer(r"\b(?:last|previous) quarter\b", text, re.IGNORECASE):
        year, q = (today.year, quarter - 1) if quarter else (today.year - 1, 3)
        out.append(_Mention(m.start(), m.end(), _quarter(year, q + 1, "last quarter", today)))
    for m in re.finditer(r"\bthis quarter\b", text, re.IGNORECASE):
        out.append(
            _Mention(m.start(), m.end(), _quarter(today.year, quarter + 1, "this quarter", today))
        )
    for m in re.finditer(r"\bq([1-4])(?:\s*,?\s*((?:19|20)\d{2}))?\b", text, re.IGNORECASE):
        q = int(m.group(1))
        year = int(m.group(2)) if m.group(2) else today.year
        if not m.group(2) and date(year, 3 * q - 2, 1) > today:
            year -= 1
        out.append(_Mention(m.start(), m.end(), _quarter(year, q, f"Q{q} {year}", today)))
    for m in re.finditer(r"\bthis month\b", text, re.IGNORECASE):
        out.append(
            _Mention(m.start(), m.end(), _month_range(today.year, today.month, "this month", today))
        )
    for m in re.finditer(r"\b(?:last|previous) month\b", text, re.IGNORECASE):
        first = today.replace(day=1) - timedelta(days=1)
        out.append(
            _Mention(m.start(), m.end(), _month_range(first.year, first.month, "last month", today))
        )
    return out


def _absolute(text: str, today: date, past: bool) -> list[_Mention]:
    out: list[_Mention] = []

    def add(m: re.Match[str], day: date | None, label: str) -> None:
        if day is not None:
            out.append(_Mention(m.start(), m.end(), DateRange(day, day, label)))

    for m in re.finditer(r"\b(\d{4})-(\d{2})-(\d{2})\b", text):
        day = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        add(m, day, day.isoformat() if day else "")
    for m in re.finditer(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", text):
        # Day first, as written in Ireland and Britain (documented).
        day = _safe_date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        add(m, day, day.isoformat() if day else "")
    day_month = r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + MONTH_PATTERN + r"(?:,?\s+(\d{4}))?\b"
    for m in re.finditer(day_month, text, re.IGNORECASE):
        year = int(m.group(3)) if m.group(3) else today.year
        day = _safe_date(year, MONTHS[m.group(2).lower()], int(m.group(1)))
        add(m, day, day.isoformat() if day else "")
    month_day = r"\b" + MONTH_PATTERN + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?"
    for m in re.finditer(month_day, text, re.IGNORECASE):
        year = int(m.group(3)) if m.group(3) else today.year
        day = _safe_date(year, MONTHS[m.group(1).lower()], int(m.group(2)))
        add(m, day, day.isoformat() if day else "")
    for m in re.finditer(r"\b" + MONTH_PATTERN + r",?\s+(\d{4})\b", text, re.IGNORECASE):
        month, year = MONTHS[m.group(1).lower()], int(m.group(2))
        label = f"{calendar.month_name[month]} {year}"
        out.append(_Mention(m.start(), m.end(), _month_range(year, month, label, today)))
    for m in re.finditer(r"(?<![\d-])(\d{4})-(\d{2})(?![\d-])", text):
        year, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12:
            label = f"{calendar.month_name[month]} {year}"
            out.append(_Mention(m.start(), m.end(), _month_range(year, month, label, today)))
    # A year after a preposition ("in 2025"): the calendar year, up to today.
    for m in re.finditer(
        r"\b(?:in|during|for|of|over|vs\.?|versus|and|with|to|than|compare)\s+((?:19|20)\d{2})\b"
        r"(?![-/])|^((?:19|20)\d{2})\b(?=\s+(?:vs|versus|and|compared))",
        text,
        re.I,
    ):
        group = 1 if m.group(1) else 2
        year = int(m.group(group))
        if year <= today.year:
            end = min(date(year, 12, 31), today)
            mention = DateRange(date(year, 1, 1), end, str(year))
            out.append(_Mention(m.start(group), m.end(group), mention))
    # A month name alone ("in March"): the most recent such month that has begun. Only after a
    # preposition, so that "may I" or "march" as a verb are not read as dates.
    bare = (
        r"(?:\b(?:in|during|for|of|since|through|and|vs\.?|versus|with|to|than|compare|"
        r"last|this|was|were|is|or|between)\s+|^\s*)"
        + MONTH_PATTERN
        + r"\b(?!\s*\d)(?!\s+(?:i|we|you)\b)"
    )
    for m in re.finditer(bare, text, re.IGNORECASE):
        month = MONTHS[m.group(1).lower()]
        year = today.year if month <= today.month else today.year - 1
        label = f"{calendar.month_name[month]} {year}"
        out.append(_Mention(m.start(1), m.end(), _month_range(year, month, label, today)))
    span = (
        r"\b(\d{1,2})(?:st|nd|rd|th)?\s*(?:-|\u2013|to|and|until|till)\s*(\d{1,2})(?:st|nd|rd|th)?"
        r"\s+(?:of\s+)?" + MONTH_PATTERN + r"(?:,?\s+(\d{4}))?\b"
    )
    for m in re.finditer(span, text, re.IGNORECASE):
        month = MONTHS[m.group(3).lower()]
        year = int(m.group(4)) if m.group(4) else today.year
        if not m.group(4) and date(year, month, 1) > today:
            year -= 1
        first, last = (
            _safe_date(year, month, int(m.group(1))),
            _safe_date(year, month, int(m.group(2))),
        )
        if first is not None and last is not None and first <= last:
            label = f"{first.isoformat()} to {last.isoformat()}"
            out.append(_Mention(m.start(), m.end(), DateRange(first, last, label)))
    nth = (
        r"\b(first|1st|second|2nd|third|3rd|fourth|4th|last|final)\s+week\s+of\s+"
        + MONTH_PATTERN
        + r"(?:,?\s+(\d{4}))?\b"
    )
    for m in re.finditer(nth, text, re.IGNORECASE):
        month = MONTHS[m.group(2).lower()]
        year = int(m.group(3)) if m.group(3) else today.year
        if not m.group(3) and date(year, month, 1) > today:
            year -= 1
        days = calendar.monthrange(year, month)[1]
        which = m.group(1).lower()[:2]
        start_day = {
            "fi": 1,
            "1s": 1,
            "se": 8,
            "2n": 8,
            "th": 15,
            "3r": 15,
            "fo": 22,
            "4t": 22,
        }.get(which, days - 6)
        first = date(year, month, start_day)
        label = f"the {m.group(1).lower()} week of {calendar.month_name[month]} {year}"
        out.append(_Mention(m.start(), m.end(), DateRange(first, first + timedelta(days=6), label)))
    weekday = r"\b(?:(next|last|this|on|coming)\s+)?" + _WEEKDAY + r"\b"
    for m in re.finditer(weekday, text, re.IGNORECASE):
        target = _WEEKDAYS.index(m.group(2).lower())
        qualifier = (m.group(1) or "").lower()
        ahead = (target - today.weekday()) % 7
        if qualifier == "last" or (qualifier in ("", "on") and past):
            delta = -((today.weekday() - target) % 7 or 7)
        elif qualifier == "next":
            delta = ahead or 7
        else:
            delta = ahead
        day = today + timedelta(days=delta)
        label = f"{qualifier} {calendar.day_name[target]}".strip()
        add(m, day, label)
    return out


_JOINER = re.compile(r"^\s*(?:to|until|till|through|and|-|\u2013)\s*$", re.IGNORECASE)
_OPENER = re.compile(r"\b(?:from|between)\s*$", re.IGNORECASE)


def extract_dates(text: str, today: date) -> list[DateRange]:
    """Every date or period the text mentions, in order of appearance.

    "from X to Y" / "between X and Y" with two days becomes one range. Overlapping matches
    keep the longest (so "14 March 2025" is one day, not also "March 2025").
    """
    past = is_past_tense(text)
    mentions = _relative(text, today) + _absolute(text, today, past)
    mentions.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[_Mention] = []
    for mention in mentions:
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    merged: list[_Mention] = []
    i = 0
    while i < len(kept):
        cur = kept[i]
        if (
            i + 1 < len(kept)
            and _OPENER.search(text[: cur.start])
            and _JOINER.match(text[cur.end : kept[i + 1].start])
        ):
            nxt = kept[i + 1]
            start, end = min(cur.range.start, nxt.range.start), max(cur.range.end, nxt.range.end)
            label = f"{start.isoformat()} to {end.isoformat()}"
            merged.append(_Mention(cur.start, nxt.end, DateRange(start, end, label)))
            i += 2
            continue
        merged.append(cur)
        i += 1
    return [m.range for m in merged]


# ------------------------------------------------------------------------------- regions

_REGION_PATTERNS: list[tuple[str, str, int]] = [
    # (pattern, region, flags). Order matters: "Northern Ireland" before "Ireland".
    (
        r"\bnorthern[- ]ireland\b|\bn\.\s?ireland\b|\bbelfast\b|\bderry\b|\blondonderry\b|"
        r"\bnewry\b|\blisburn\b|\barmagh\b|\benniskillen\b|\bomagh\b",
        "ni",
        re.IGNORECASE,
    ),
    (r"\bNI\b", "ni", 0),
    (
        r"\ball[- ]island\b|\bisland of ireland\b|\bwhole (?:of )?(?:the )?island\b|"
        r"\bboth (?:ireland|jurisdictions)\b|\bSEM\b",
        "all",
        re.IGNORECASE,
    ),
    (
        r"\bgreat britain\b|\bbritain\b|\bbritish\b|\bunited kingdom\b|\bengland\b|"
        r"\bscotland\b|\bwales\b|\blondon\b|\bmanchester\b|\bnational grid\b|\bglasgow\b|"
        r"\bcardiff\b|\bedinburgh\b|\bbirmingham\b|\bliverpool\b|\bleeds\b|\bbristol\b|"
        r"\bsheffield\b|\bnewcastle\b|\bnottingham\b|\bleicester\b|\baberdeen\b|\bswansea\b|"
        r"\bbrighton\b|\boxford\b|\bcambridge\b|\bderby\b|(?<!new )\byork\b|\bexeter\b",
        "gb",
        re.IGNORECASE,
    ),
    (r"\bGB\b|\bUK\b", "gb", 0),
    (
        r"\brepublic of ireland\b|\bireland\b|\birish\b|\bdublin\b|\bcork\b|\bgalway\b|"
        r"\blimerick\b|\beirgrid\b|\bwaterford\b|\bkilkenny\b|\bkillarney\b|\bsligo\b|"
        r"\bathlone\b|\bdundalk\b|\bdrogheda\b|\bwexford\b|\bennis\b",
        "ie",
        re.IGNORECASE,
    ),
    (r"\bROI\b", "ie", 0),
]


def extract_regions(text: str) -> list[str]:
    """Grid regions mentioned, in order of first mention, without duplicates.

    The UK is read as Great Britain's grid (Northern Ireland is part of the all-island market,
    and is matched by name first). Nothing mentioned → the caller uses :data:`DEFAULT_REGION`.
    """
    found: list[tuple[int, str]] = []
    claimed: list[tuple[int, int]] = []
    for pattern, region, flags in _REGION_PATTERNS:
        for m in re.finditer(pattern, text, flags):
            if any(a <= m.start() < b or a < m.end() <= b for a, b in claimed):
                continue
            claimed.append((m.start(), m.end()))
            found.append((m.start(), region))
    found.sort()
    out: list[str] = []
    for _, region in found:
        if region not in out:
            out.append(region)
    return out


# ----------------------------------------------------------------------------- durations

APPLIANCES: list[tuple[str, float, str]] = [
    # (pattern, typical hours, name). Typical cycle lengths, stated in the answer as such.
    (r"\b(?:ev|electric (?:car|vehicle)|car|tesla|vehicle)\b", 4.0, "EV charging"),
    (r"\bdish ?washer\b", 2.0, "dishwasher"),
    (r"\bwashing machine\b|\blaundry\b|\bwash\b", 2.0, "washing machine"),
    (r"\b(?:tumble )?dryer\b", 2.0, "tumble dryer"),
    (r"\bimmersion\b|\bhot water\b", 2.0, "immersion heater"),
    (r"\bheat pump\b", 3.0, "heat pump"),
]


def extract_duration(text: str) -> Duration:
    """How long the flexible load runs: stated hours/minutes, else a typical appliance cycle,
    else :data:`DEFAULT_DURATION_H`."""
    if re.search(r"\bhalf an hour\b", text, re.IGNORECASE):
        return Duration(0.5, "half an hour as requested")
    m = re.search(r"\b" + _NUM + r"[- ]?(?:hours?|hrs?|h)\b", text, re.IGNORECASE)
    if m:
        value = parse_number_word(m.group(1))
        if value is not None and 0 < value <= 24:
            return Duration(value, f"{_fmt_hours(value)} as requested")
    m = re.search(r"\b" + _NUM + r"[- ]?(?:minutes?|mins?)\b", text, re.IGNORECASE)
    if m:
        value = parse_number_word(m.group(1))
        if value is not None and 0 < value <= 24 * 60:
            hours = max(0.5, round(value / 30) * 0.5)
            return Duration(hours, f"{_fmt_hours(hours)} (from {int(value)} minutes)")
    for pattern, hours, name in APPLIANCES:
        if re.search(pattern, text, re.IGNORECASE):
            return Duration(hours, f"{_fmt_hours(hours)}, a typical {name} cycle")
    return Duration(DEFAULT_DURATION_H, f"{_fmt_hours(DEFAULT_DURATION_H)} (default)")


def extract_appliance(text: str) -> str | None:
    """The appliance or load named ("dishwasher", "EV charging"), if any."""
    for pattern, _hours, name in APPLIANCES:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return None


def extract_energy_kwh(text: str) -> float | None:
    """Energy the load uses when the user states it ("20 kWh"), else None (never assumed)."""
    m = re.search(r"\b(\d[\d,]*(?:\.\d+)?)\s*kwh\b", text, re.IGNORECASE)
    if m is None:
        return None
    value = float(m.group(1).replace(",", ""))
    return value if value > 0 else None


def hours_label(hours: float) -> str:
    """``2 hours``, ``1 hour``, ``1.5 hours``."""
    return _fmt_hours(hours)


def _fmt_hours(hours: float) -> str:
    text = f"{hours:g}"
    return f"{text} hour" if hours == 1 else f"{text} hours"


# ------------------------------------------------------------------------------- profile

_SECTORS: list[tuple[str, str]] = [
    (r"\boffices?\b|\bconsult\w*|\bsoftware\b|\bagency\b|\bbank\w*|\binsurance\b", "office"),
    (r"\bretail\w*|\bshops?\b|\bstores?\b|\bsupermarkets?\b", "retail"),
    (r"\bmanufactur\w*|\bfactor(?:y|ies)\b|\bplants?\b|\bfactories\b", "manufacturing"),
    (r"\bhotels?\b|\brestaurants?\b|\bcaf[eé]s?\b|\bhospitality\b|\bpubs?\b", "hospitality"),
    (r"\blogistics\b|\bdelivery\b|\bhaulage\b|\btransport\w*|\bwarehous\w*", "logistics"),
]


def extract_profile(text: str) -> CompanyProfile:
    """Sector, headcount, sites and fleet, when the question states them."""
    sector = None
    for pattern, name in _SECTORS:
        if re.search(pattern, text, re.IGNORECASE):
            sector = name
            break
    employees = _count(text, r"(?:employees|staff|people|workers|fte|headcount|members of staff)")
    if employees is None:
        m = re.search(r"\b(\d[\d,]*)[- ](?:person|people|staff|employee|strong)\b", text, re.I)
        employees = float(m.group(1).replace(",", "")) if m else None
    sites = _count(
        text,
        r"(?:sites?|locations?|offices|shops|stores|branches|warehouses|premises|buildings|"
        r"plants|factories|hotels|restaurants|depots)",
    )
    fleet = _count(text, r"(?:[a-z]+\s+)?(?:vans?|vehicles?|trucks?|lorries|cars?|hgvs?)")
    fuel = None
    if fleet is not None:
        if re.search(r"\belectric\b|\bevs?\b|\bbattery\b", text, re.IGNORECASE):
            fuel = "electric"
        elif re.search(r"\bpetrol\b", text, re.IGNORECASE):
            fuel = "petrol"
        else:
            fuel = "diesel"
    return CompanyProfile(
        sector=sector,
        employees=int(employees) if employees is not None else None,
        sites=int(sites) if sites is not None else None,
        fleet_vehicles=int(fleet) if fleet is not None else None,
        fleet_fuel=fuel,
    )


def _count(text: str, nouns: str) -> float | None:
    pattern = r"\b" + _NUM + r"\s+(?:[a-z-]+\s+)?" + nouns + r"\b"
    for m in re.finditer(pattern, text, re.IGNORECASE):
        value = parse_number_word(m.group(1))
        if value is not None and value >= 1:
            return value
    return None


# -------------------------------------------------------------------------------- levers


@dataclass(frozen=True, slots=True)
class Levers:
    """Reduction levers as percentages (None: not requested) and the fleet's target fuel."""

    shift_electricity_pct: float | None = None
    fleet_switch_pct: float | None = None
    fleet_target: str = "electric"
    cut_flights_pct: float | None = None

    @property
    def any(self) -> bool:
        return (
            self.shift_electricity_pct is not None
            or self.fleet_switch_pct is not None
            or self.cut_flights_pct is not None
        )


DEFAULT_LEVERS = Levers(shift_electricity_pct=30.0, fleet_switch_pct=50.0, cut_flights_pct=25.0)


def _pct_near(text: str, keywords: str) -> float | None:
    """A percentage stated within a few words of ``keywords`` (either side)."""
    near = r"(?:\W+\w+){0,6}?\W+"
    for pattern in (
        r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent|per cent)" + near + r"(?:" + keywords + r")",
        r"(?:" + keywords + r")" + near + r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent|per cent)",
    ):
        m = re.search(pattern, text, re.IGNORECASE)
        if m is not None:
            value = float(m.group(1))
            if 0 < value <= 100:
                return value
    return None


def extract_levers(text: str) -> Levers:
    """Which levers the question asks about; none named → :data:`DEFAULT_LEVERS`.

    A named lever without a percentage gets a documented default: shifting 30% of electricity,
    switching the whole fleet (100%) when "switch the fleet" is asked, cutting 25% of flights.
    """
    shift = fleet = flights = None
    if re.search(r"\bshift\w*|\bcleanest hours\b|\bload shifting\b|\btime of use\b", text, re.I):
        shift = _pct_near(text, r"electricity|load|consumption|usage|shift\w*") or 30.0
    if re.search(
        r"\bfleet\b|\bvans?\b|\bvehicles?\b|\bev\b|\belectric (?:vans|cars|vehicles)", text, re.I
    ):
        fleet = _pct_near(text, r"fleet|vans?|vehicles?|cars?") or 100.0
    if re.search(r"\bflights?\b|\bflying\b|\bair travel\b|\bbusiness travel\b", text, re.I):
        flights = _pct_near(text, r"flights?|flying|travel") or 25.0
    target = (
        "hvo"
        if re.search(r"\bhvo\b|\bbiodiesel\b|\brenewable diesel\b", text, re.I)
        else "electric"
    )
    levers = Levers(shift, fleet, target, flights)
    return levers if levers.any else DEFAULT_LEVERS


# ----------------------------------------------------------------------------- categories

_CATEGORIES: list[tuple[str, str]] = [
    # (pattern, emission-factor category or category prefix). Order: specific words first.
    (r"\bheating oil\b|\bkerosene\b", "heating_oil"),
    (r"\blpg\b|\bpropane\b", "lpg"),
    (r"\bhvo\b", "hvo"),
    (r"\bgas\b", "natural_gas"),
    (r"\bdiesel\b", "diesel"),
    (r"\bpetrol\b|\bgasoline\b", "petrol"),
    (r"\bflights?\b|\bflying\b|\bair travel\b", "flight"),
    (r"\bfreight\b|\bhaulage\b", "road_freight"),
    (r"\brail\b|\btrain\b", "rail"),
    (r"\bbus\b", "bus"),
    (r"\bwater\b", "water"),
    (r"\bwaste\b|\blandfill\b|\brecycling\b", "waste"),
    (r"\belectricity\b|\bpower\b|\bev\b|\bcharg\w*|\btesla\b|\belectric car", "electricity"),
]


def extract_category(text: str) -> str | None:
    """The activity category the question names (a factor category or prefix), if any."""
    for pattern, name in _CATEGORIES:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return None


# ------------------------------------------------------------------------------- hours


@dataclass(frozen=True, slots=True)
class HourBounds:
    """Hours of the day (the region's local time, 0-24) a load may run in, as the user
    limited them."""

    earliest: int | None
    latest: int | None
    reason: str


_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
_PARTS_OF_DAY: list[tuple[str, int, int, str]] = [
    (r"\b(?:working|office|business) hours\b", 9, 17, "working hours"),
    (r"\bduring the day\b|\bdaytime\b", 7, 19, "daytime"),
    (r"\bin the morning\b|\bthis morning\b", 6, 12, "the morning"),
    (r"\bin the afternoon\b|\bthis afternoon\b", 12, 18, "the afternoon"),
    (r"\bin the evening\b|\bthis evening\b|\btonight\b", 18, 24, "the evening"),
]


def _hour(match: re.Match[str], first: int) -> int | None:
    hour = int(match.group(first))
    minutes = match.group(first + 1)
    meridiem = (match.group(first + 2) or "").lower()
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    if minutes is None and not meridiem and hour > 24:
        return None
    return hour if 0 <= hour <= 24 else None


def extract_hours(text: str) -> HourBounds | None:
    """ "after 6pm", "before 08:00", "between 9am and 5pm", or a part of the day ("tonight",
    "working hours"); hours are the region's local clock, as the grid tools read them. None
    when not limited."""
    m = re.search(r"\bbetween\s+" + _CLOCK + r"\s+and\s+" + _CLOCK, text, re.IGNORECASE)
    if m is not None:
        start, end = _hour(m, 1), _hour(m, 4)
        if start is not None and end is not None and start < end:
            return HourBounds(start, end, m.group(0))
    after = re.search(r"\b(?:after|from)\s+" + _CLOCK + r"(?!\s*(?:hours?|h)\b)", text, re.I)
    before = re.search(r"\b(?:before|until|by)\s+" + _CLOCK, text, re.IGNORECASE)
    earliest = _hour(after, 1) if after is not None and (after.group(2) or after.group(3)) else None
    latest = (
        _hour(before, 1) if before is not None and (before.group(2) or before.group(3)) else None
    )
    if earliest is not None or latest is not None:
        if earliest is not None and latest is not None and earliest >= latest:
            return None
        words = " and ".join(m.group(0).strip() for m in (after, before) if m is not None)
        return HourBounds(earliest, latest, words)
    for pattern, start, end, name in _PARTS_OF_DAY:
        if re.search(pattern, text, re.IGNORECASE):
            return HourBounds(start, end, name)
    return None
