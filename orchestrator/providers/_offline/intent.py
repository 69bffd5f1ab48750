"""Intent classification and planning for the offline engine.

The planner reads the question once into an :class:`Understanding` (intent plus the extracted
parameters); every later step re-derives the same understanding from the same hints, so the
steps never have to parse the planner's prose. Rules are keyword based and ordered; they are
documented in ``docs/offline-engine.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from orchestrator.providers._offline.extract import (
    DEFAULT_REGION,
    REGION_NAMES,
    CompanyProfile,
    DateRange,
    Duration,
    HourBounds,
    extract_appliance,
    extract_category,
    extract_dates,
    extract_duration,
    extract_energy_kwh,
    extract_hours,
    extract_profile,
    extract_regions,
    hours_label,
)
from orchestrator.providers._offline.invalid import invalid_dates, unknown_places
from orchestrator.providers._offline.quantities import (
    StatedQuantity,
    extract_quantities,
    extract_shares,
)

__all__ = ["Intent", "Rank", "Understanding", "build_plan", "understand"]


class Intent(StrEnum):
    GRID_TIMING = "grid_timing"  # when is the grid cleanest / best time to run a load
    GRID_HISTORY = "grid_history"  # how green was (or will be) the grid over a period
    GRID_COMPARE = "grid_compare"  # two periods or two regions side by side
    FACTORS = "factors"  # emission factors of an activity (diesel, electricity, flights...)
    FOOTPRINT = "footprint"  # a company's carbon footprint
    ANALYSIS = "analysis"  # statistics/trends/anomalies of a table
    SCENARIOS = "scenarios"  # how to reduce emissions, what-if
    GRID_RANK = "grid_rank"  # the greenest / dirtiest day, week or hour of day in a period
    NOW_CHECK = "now_check"  # "is now a good time?": yes or no first
    CONVERSION = "conversion"  # kg CO2 per litre of diesel; what is 1 MWh in CO2
    SHIFT_SAVINGS = "shift_savings"  # the saving from moving the user's load to clean hours
    COMPANY_REPORT = "company_report"  # a quarterly/annual report for a sector and size
    NEEDS = "needs"  # answerable only with something the offline engine lacks
    INVALID = "invalid"  # an impossible date or an unknown place: named, never replaced
    GREETING = "greeting"
    OFF_TOPIC = "off_topic"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: str
    name: str
    kind: str
    columns: tuple[str, ...]
    rows: int


@dataclass(frozen=True, slots=True)
class Rank:
    """Which extreme of which bucket: the greenest day, the dirtiest hour of day, ..."""

    extreme: str  # "greenest" or "dirtiest"
    bucket: str  # "day", "week" or "hour"


@dataclass(frozen=True, slots=True)
class Understanding:
    question: str
    intent: Intent
    today: date
    dates: tuple[DateRange, ...]
    regions: tuple[str, ...]
    duration: Duration
    energy_kwh: float | None
    profile: CompanyProfile
    dataset: DatasetInfo | None
    hours: HourBounds | None = None
    quantities: tuple[StatedQuantity, ...] = ()
    shares: tuple[float, ...] = ()  # percent
    rank: Rank | None = None
    problems: tuple[str, ...] = ()  # why this ask cannot be answered as written (INVALID)
    needs: str | None = None  # what an answer would need (NEEDS)
    appliance: str | None = None

    @property
    def region(self) -> str:
        return self.regions[0] if self.regions else DEFAULT_REGION

    @property
    def region_stated(self) -> bool:
        return bool(self.regions)

    @property
    def wants_trend(self) -> bool:
        """A footprint question that also asks how emissions develop over time."""
        return _TREND.search(self.question) is not None

    def period(self) -> DateRange:
        """The first period mentioned; grid questions without one mean today."""
        if self.dates:
            return self.dates[0]
        return DateRange(self.today, self.today, "today")


_TREND = re.compile(
    r"\btrend\w*|\banomal\w*|\bmonth[- ]over[- ]month\b|\bover time\b|\bmonth by month\b|"
    r"\bmonthly\b|\banaly[sz]\w*",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|howdy|good (?:morning|afternoon|evening)|greetings|"
    r"thanks|thank you|cheers|what can you do|who are you|help)\b[\s!?.,a-z]*$",
    re.IGNORECASE,
)
_SCENARIO = re.compile(
    r"\breduc\w*|\bcut\w*\b|\blower (?:my|our|the) (?:emissions|footprint)|\bscenarios?\b|"
    r"\bwhat if\b|\bnet[- ]zero\b|\bdecarboni[sz]\w*|\bswitch(?:ing)? (?:to|the|our|my)\b|"
    r"\bshift(?:ing)?\b.*\b(?:electricity|load|consumption|usage)\b|\bsav(?:e|ing)s? (?:on )?"
    r"(?:emissions|co2|carbon)",
    re.IGNORECASE,
)
_FOOTPRINT = re.compile(
    r"\bfootprint\b|\bscope [123]\b|\bghg\b|\bgreenhouse\b|\bemissions? (?:of|from|for)\b|"
    r"\b(?:our|my|the|its|their) (?:company'?s? |business'?s? |organisation'?s? )?emissions\b|"
    r"\bhow much (?:co2|carbon|emissions)\b|\bcarbon (?:report|accounting|inventory)\b",
    re.IGNORECASE,
)
_FACTORS = re.compile(
    r"\bemission factors?\b|\bconversion factors?\b|\bfactors? for\b|"
    r"\bco2e? per (?:litre|liter|kwh|km|passenger)",
    re.IGNORECASE,
)
_LEVER = re.compile(
    r"\bflights?\b|\bfleet\b|\bvans?\b|\bvehicles?\b|\bhvo\b|"
    r"\bshift\w* (?:\w+ )?(?:electricity|load|consumption)",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\bcompany\b|\bbusiness\b|\bfirm\b|\borgani[sz]ation\b|\bemployees\b|\bstaff\b|"
    r"\bsme\b|\bfleet\b",
    re.IGNORECASE,
)
_ANALYSIS = re.compile(
    r"\banaly[sz]\w*|\bdataset\b|\bdata set\b|\bcsv\b|\bupload\w*|\bspreadsheet\b|\btable\b|"
    r"\btrends?\b|\banomal\w*|\boutliers?\b|\bsales\b|\brevenue\b|\bstatistics\b|\bstats\b|"
    r"\bforecast (?:sales|revenue)|\bmonth[- ]over[- ]month\b|\bmy data\b|\bthe data\b",
    re.IGNORECASE,
)
_TIMING = re.compile(
    r"\bwhen\b|\bbest time\b|\bcleanest\b|\bgreenest\b|\blowest\b|\bschedul\w*|"
    r"\bcharge\b|\bcharging\b|\brun (?:my|the|our)\b|\bdish ?washer\b|\bwashing machine\b|"
    r"\bdryer\b|\bwindow\b|\bshould i\b|\bideal time\b|\bwhat time\b|\bbest for\b|"
    r"\bimmersion\b|\bheat pump\b|\bhot water\b|\blaundry\b|\btumble\b",
    re.IGNORECASE,
)
_COMPARE = re.compile(
    r"\bcompar\w*|\bvs\.?\b|\bversus\b|\bdifference between\b|\b(?:greener|cleaner|dirtier) "
    r"than\b|\bagainst\b",
    re.IGNORECASE,
)
_GRID = re.compile(
    r"\bgrid\b|\bcarbon intensity\b|\bco2 intensity\b|\bintensity\b|\belectricity\b|"
    r"\bhow green\b|\bhow clean\b|\brenewables?\b|\bwind\b|\bpower\b|\bgco2\b",
    re.IGNORECASE,
)


_FOLLOW_UP = re.compile(
    r"^\s*(?:and|what about|how about|same for|and for|also|now)\b", re.IGNORECASE
)


def understand(hints: dict[str, Any], today: date) -> Understanding:
    """Classify ``hints["question"]`` and extract every parameter a step may need.

    A follow-up without topic words of its own ("And tomorrow?", "What about NI?") continues
    the previous question of the conversation: its intent and any parameter not restated.
    """
    question = str(hints.get("question") or "")
    dataset = _dataset_info(hints.get("dataset"))
    current = _read(question, dataset, today)
    previous = _previous_question(hints.get("history"))
    if (
        previous is None
        or _has_topic(question)
        or current.intent in (Intent.GREETING, Intent.INVALID)
        or current.quantities
    ):
        return current
    if not (current.dates or current.regions or _FOLLOW_UP.match(question)):
        return current
    before = _read(previous, dataset, today)
    if before.intent is Intent.INVALID:
        # The earlier question could not be answered as written; the follow-up asks the same
        # thing about a period or place that exists.
        before = replace(
            before,
            intent=classify(previous, dataset, dates=0, regions=len(before.regions)),
            problems=(),
        )
    if before.intent in (Intent.GREETING, Intent.OFF_TOPIC, Intent.NEEDS):
        return current
    default_duration = current.duration.reason.endswith("(default)")
    merged = Understanding(
        question=f"{previous} / {question}",
        intent=before.intent,
        today=today,
        dates=current.dates or before.dates,
        regions=current.regions or before.regions,
        duration=before.duration if default_duration else current.duration,
        energy_kwh=current.energy_kwh or before.energy_kwh,
        profile=before.profile if current.profile.is_empty else current.profile,
        dataset=dataset,
        hours=current.hours or before.hours,
        quantities=before.quantities,
        shares=current.shares or before.shares,
        rank=before.rank,
        needs=before.needs,
        appliance=current.appliance or before.appliance,
    )
    if merged.intent is Intent.GRID_COMPARE and len(merged.dates) < 2 and len(merged.regions) < 2:
        return Understanding(**{**_fields(merged), "intent": Intent.GRID_HISTORY})
    return merged


def _fields(u: Understanding) -> dict[str, Any]:
    return {name: getattr(u, name) for name in Understanding.__slots__}


def _previous_question(history: object) -> str | None:
    if isinstance(history, list) and history and isinstance(history[-1], dict):
        question = history[-1].get("question")
        if isinstance(question, str) and question.strip():
            return question
    return None


def _has_topic(text: str) -> bool:
    return any(
        pattern.search(text) is not None
        for pattern in (
            _GRID,
            _TIMING,
            _FOOTPRINT,
            _FACTORS,
            _ANALYSIS,
            _SCENARIO,
            _COMPANY,
            _COMPARE,
        )
    )


def _read(question: str, dataset: DatasetInfo | None, today: date) -> Understanding:
    dates = _year_on_year(question, tuple(extract_dates(_YOY.sub(" ", question), today)))
    regions = tuple(extract_regions(question))
    problems = tuple(bad.message for bad in invalid_dates(question, today))
    foreign = unknown_places(question)
    if foreign and not regions:
        problems += (
            f"I have no grid data or electricity factor for {', '.join(foreign)}: I cover the "
            "Republic of Ireland, Northern Ireland, the all-island market and Great Britain",
        )
    quantities = tuple(extract_quantities(question))
    rank = _rank(question)
    intent = classify(
        question,
        dataset,
        dates=len(dates),
        regions=len(regions),
        quantities=quantities,
        problems=bool(problems),
        rank=rank is not None,
    )
    if (
        intent in (Intent.FOOTPRINT, Intent.CONVERSION)
        and quantities
        and all(q.activity is None for q in quantities)
    ):
        # "the footprint of 5,000 litres": of what? Asked, never replaced by a synthetic company.
        unknown = ", ".join(f"'{q.phrase}'" for q in quantities)
        problems += (
            f"I cannot tell what {unknown} is of; say which fuel or activity (e.g. 'of diesel', "
            "'of electricity', 'by car', 'of waste to landfill')",
        )
        intent = Intent.INVALID
    return Understanding(
        question=question,
        intent=intent,
        today=today,
        dates=dates,
        regions=regions,
        duration=extract_duration(question),
        energy_kwh=extract_energy_kwh(question),
        profile=extract_profile(question),
        dataset=dataset,
        hours=extract_hours(question),
        quantities=quantities,
        shares=tuple(extract_shares(question)),
        rank=rank,
        problems=problems,
        needs=_needs(question, dataset) if intent is Intent.NEEDS else None,
        appliance=extract_appliance(question),
    )


_YOY = re.compile(
    r"\byear[- ]on[- ]year\b|\byear[- ]over[- ]year\b|\byoy\b|\bsame (?:\w+ )?last year\b|"
    r"\b(?:than|with|to|against|vs\.?) (?:the same \w+ )?(?:a year (?:ago|before)|last year)\b",
    re.IGNORECASE,
)


def _year_on_year(question: str, dates: tuple[DateRange, ...]) -> tuple[DateRange, ...]:
    """ "November year on year" -> November and the same days one year earlier."""
    if len(dates) != 1 or _YOY.search(question) is None:
        return dates
    first = dates[0]
    try:
        start, end = (
            first.start.replace(year=first.start.year - 1),
            first.end.replace(year=first.end.year - 1),
        )
    except ValueError:  # 29 February
        start = first.start.replace(year=first.start.year - 1, day=28)
        end = first.end.replace(year=first.end.year - 1, day=28)
    return (first, DateRange(start, end, f"the same period a year earlier ({first.label})"))


_RANK = re.compile(
    r"\b(greenest|cleanest|lowest[- ]carbon|best|dirtiest|worst|highest[- ]carbon|most "
    r"polluting|lowest|highest)\s+(day|days|weekday|hour|hours|time of day|week|weeks)\b|"
    r"\bwhich (day|weekday|hour|week)\b[^?]*?\b(greenest|cleanest|dirtiest|lowest|highest|best|"
    r"worst)\b",
    re.IGNORECASE,
)
_BEFORE = re.compile(
    r"\b(?:the )?(?:\d+ days|days?|weeks?|months?|period|year) (?:before|prior)\b|\bprevious "
    r"(?:\d+ days|period)\b",
    re.IGNORECASE,
)
_DIRTY = ("dirtiest", "worst", "highest", "highest-carbon", "highest carbon", "most polluting")


_DAYPART = re.compile(
    r"\b(?:greener|cleaner|dirtier|lower|higher|better|worse)\b[^?]*\b(?:at night|overnight|"
    r"during the day|by day|in the (?:morning|evening|afternoon)|at (?:lunch|midday|noon))\b",
    re.IGNORECASE,
)


def _rank(question: str) -> Rank | None:
    if _DAYPART.search(question):
        return Rank("greenest", "hour")  # "is it greener at night?": rank the hours of the day
    m = _RANK.search(question)
    if m is None:
        return None
    extreme_word = (m.group(1) or m.group(4)).lower()
    bucket_word = (m.group(2) or m.group(3)).lower()
    bucket = "hour" if bucket_word.startswith(("hour", "time")) else bucket_word.rstrip("s")
    bucket = "day" if bucket == "weekday" else bucket
    extreme = "dirtiest" if extreme_word in _DIRTY else "greenest"
    if bucket == "hour" and re.search(r"\b(?:tonight|today|tomorrow)\b", question, re.I):
        return None  # "the cleanest hour tomorrow" is a 1-hour window search
    return Rank(extreme, bucket)


_NEEDS_LLM = re.compile(
    r"^\s*(?:please\s+)?(?:write|draft|compose|translate|rewrite|summari[sz]e|paraphrase)\b|"
    r"\b(?:poem|essay|cover letter|press release|tweet|linkedin post|slogan)\b",
    re.IGNORECASE,
)
_REWRITE = re.compile(
    r"^\s*(?:please\s+)?(?:translate|rewrite|summari[sz]e|paraphrase|proofread)\b(?![^?]*\b(?:"
    r"data|dataset|csv|spreadsheet|upload\w*)\b)",
    re.IGNORECASE,
)
_NEEDS_PRICE = re.compile(
    r"\b(?:electricity|power|energy|gas|spot|wholesale|day[- ]ahead)\s+(?:price|prices|tariff|"
    r"tariffs)\b|\bprice of (?:electricity|power|gas)\b|\b(?:cents?|€|eur|£|p)\s*(?:per|/)\s*kwh\b",
    re.IGNORECASE,
)
_NEEDS_DATA = re.compile(
    r"\b(?:my|our)\s+(?:own\s+)?(?:data|dataset|spreadsheet|csv|file|sales|revenue|sites|"
    r"stores|branches|invoices|bills|meter readings)\b|\bthe (?:attached|uploaded) (?:file|data)\b",
    re.IGNORECASE,
)


def _needs(question: str, dataset: DatasetInfo | None) -> str:
    if _NEEDS_PRICE.search(question):
        return (
            "live electricity prices: this service has no price or tariff source, offline or "
            "online; ask your supplier or the SEMO/Elexon market data"
        )
    if _NEEDS_DATA.search(question) and dataset is None:
        return (
            "your data: upload a CSV or JSON dataset (POST /datasets, or --dataset with the CLI) "
            "and ask again with it"
        )
    return (
        "a language model: writing or rewriting free text is not something the offline engine "
        "does; configure an LLM provider (OPENAI_API_KEY, or llm.provider = openai_chat)"
    )


def _is_needs(text: str, dataset: DatasetInfo | None) -> bool:
    if _NEEDS_PRICE.search(text):
        return True
    if _NEEDS_LLM.search(text) and dataset is None:
        return True
    return (
        dataset is None
        and _NEEDS_DATA.search(text) is not None
        and (_ANALYSIS.search(text) is not None or _ENTITY.search(text) is not None)
    )


_ENTITY = re.compile(
    r"\bfastest[- ]growing\b|\bgr[eo]w\w* (?:the )?fastest\b|\bbiggest\b|"
    r"\btop (?:contributors?|\d+|sites?|categories)\b|\bper (?:site|"
    r"store|category|branch)\b|\bby (?:site|store|category|branch)\b|\bwhich (?:site|store|"
    r"branch|category)\b|\bbiggest (?:contributors?|sources?)\b",
    re.IGNORECASE,
)
_COMPANY_REPORT = re.compile(
    r"\b(?:quarterly|annual|yearly|monthly|q[1-4])\s+(?:\w+\s+){0,2}report\b|"
    r"\breport\b[^?]*\b(?:for|on|about) (?:a|an|our|my|the)\b[^?]*\b(?:company|firm|business|"
    r"organi[sz]ation|sme|operator|retailer|manufacturer|hotel|office)\b|"
    r"\b(?:sustainability|esg|carbon|emissions?)\s+report\b",
    re.IGNORECASE,
)
_NOW = re.compile(
    r"\bis (?:the )?(?:grid|electricity|power)\s+(?:clean|green|dirty)\w*\b[^?]*\b(?:now|at the "
    r"moment|currently)\b|"
    r"\b(?:is|it'?s)\s+(?:it\s+|now\s+|right now\s+)?(?:a\s+)?(?:good|ok|okay|bad|great|"
    r"sensible|right|green|clean)\b[^?]*\bnow\b|\bnow\s+(?:a\s+)?(?:good|ok|okay|bad)\b|"
    r"\b(?:should|can|could) (?:i|we) (?:run|use|charge|start|turn on|switch on|put on|do)\b"
    r"[^?]*\b(?:now|right now|at the moment|currently)\b|\bright now\b[^?]*\b(?:good|ok|clean|"
    r"green)\b",
    re.IGNORECASE,
)
_SHIFT = re.compile(
    r"\b(?:shift\w*|mov(?:e|ing)|reschedul\w*|delay\w*|run(?:ning)?|charg\w*)\b[^?]*\b(?:to|into|"
    r"at|in|during|overnight|after|before|until)\b|\bsave\b[^?]*\bby (?:shift|mov|running|"
    r"charging)",
    re.IGNORECASE,
)
_SAVE = re.compile(
    r"\bsav(?:e|es|ing|ings)\b|\bavoid\w*\b|\bhow much (?:co2|carbon|emissions?)\b|\breduc\w*",
    re.IGNORECASE,
)
_PER_UNIT = re.compile(
    r"\b(?:kg|kgs|kgco2e?|kilograms?|g|grams?|tonnes?|co2e?|carbon|emissions?)\b[^?]*?\b(?:per|/|a|each|"
    r"for (?:one|a|each|every))\s+(?:litre|liter|kwh|km|kilomet\w+|mile|gallon|m3|therm|"
    r"passenger|tonne|mwh)\b|\bconver\w+\b|\bin (?:co2e?|carbon|kg|tonnes)\b|"
    r"\b(?:co2e?|carbon|emissions?) (?:is|are|does|do|of|from|in)\b",
    re.IGNORECASE,
)


def classify(
    question: str,
    dataset: DatasetInfo | None,
    *,
    dates: int,
    regions: int,
    quantities: tuple[StatedQuantity, ...] = (),
    problems: bool = False,
    rank: bool = False,
) -> Intent:
    """Ordered rules: the most specific intent that the question's words support wins."""
    text = question.strip()
    if not text or (_GREETING.match(text) and not _has_topic(text)):
        return Intent.GREETING
    if problems:
        return Intent.INVALID
    if dataset is None and _REWRITE.match(text):
        return Intent.NEEDS
    grid = _GRID.search(text) is not None
    if (
        _COMPANY_REPORT.search(text)
        and (dataset is None or dataset.kind == "activity_records")
        and not quantities
    ):
        return Intent.COMPANY_REPORT
    if _is_needs(text, dataset):
        return Intent.NEEDS
    if _NOW.search(text):
        return Intent.NOW_CHECK
    energy = [q for q in quantities if q.activity == "electricity"]
    if (
        _SHIFT.search(text)
        and not re.search(r"\bfootprint\b|\bscope [123]\b|\bghg\b", text, re.I)
        and (energy or re.search(r"%|percent|\bhalf\b|\bthird\b|\bquarter\b", text, re.I))
        and re.search(r"\bshift|\bmov(?:e|ing)\b|\bsav|\breschedul|\bdelay", text, re.I)
        and not _COMPANY.search(text)
    ):
        return Intent.SHIFT_SAVINGS
    footprint = _FOOTPRINT.search(text) is not None
    if quantities and not footprint and len(quantities) == 1 and _PER_UNIT.search(text):
        return Intent.CONVERSION
    if (
        not quantities
        and _PER_UNIT.search(text)
        and re.search(
            r"\bper (?:litre|liter|kwh|km|kilomet\w+|mile|gallon|m3|therm|passenger|tonne|mwh)\b",
            text,
            re.I,
        )
    ):
        return Intent.CONVERSION
    if (
        _SCENARIO.search(text)
        and (
            _FOOTPRINT.search(text)
            or _COMPANY.search(text)
            or _LEVER.search(text)
            or re.search(r"emission|co2|carbon", text, re.I)
        )
        and not quantities
    ):
        return Intent.SCENARIOS
    if _FACTORS.search(text) and not _COMPANY.search(text) and not quantities:
        return Intent.FACTORS
    if quantities and (footprint or re.search(r"\bco2|\bcarbon|\bemission|\bghg\b", text, re.I)):
        return Intent.FOOTPRINT
    if (
        footprint
        and not quantities
        and not _COMPANY.search(text)
        and not re.search(r"\b(?:our|my|we|us)\b", text, re.I)
        and extract_category(text) is not None
    ):
        # "How much CO2 does charging a Tesla produce?": an activity without an amount is
        # answered with its factor per unit (and the amount asked for), never with a synthetic
        # company's footprint.
        return Intent.CONVERSION
    if footprint or (
        _COMPANY.search(text) and re.search(r"\bemission|\bco2\b|\bcarbon\b", text, re.I)
    ):
        return Intent.FOOTPRINT
    if dataset is not None and (
        _ANALYSIS.search(text) or _ENTITY.search(text) or not (grid or _TIMING.search(text))
    ):
        if dataset.kind == "activity_records" and not (
            _ANALYSIS.search(text) or _ENTITY.search(text)
        ):
            return Intent.FOOTPRINT
        return Intent.ANALYSIS
    if _ANALYSIS.search(text) and not grid:
        return Intent.ANALYSIS
    if rank:
        return Intent.GRID_RANK
    compare = _COMPARE.search(text) is not None
    if compare and (dates > 1 or (dates == 1 and _BEFORE.search(text))):
        return Intent.GRID_COMPARE
    if grid or _TIMING.search(text) or regions:
        if compare or (dates > 0 and regions > 1) or dates > 1:
            return Intent.GRID_COMPARE
        if _TIMING.search(text) and not re.search(r"\bhow (?:green|clean)\b", text, re.I):
            return Intent.GRID_TIMING
        return Intent.GRID_HISTORY
    if any(q.activity is not None for q in quantities):
        return Intent.FOOTPRINT  # "We used 2,000 therms of gas in 2025": the figures, counted
    if dates and re.search(r"\bemissions?\b|\bco2\b|\bcarbon\b", text, re.I):
        return Intent.GRID_HISTORY  # "What were emissions like last week?"
    return Intent.OFF_TOPIC


def _dataset_info(raw: object) -> DatasetInfo | None:
    if not isinstance(raw, dict):
        return None
    columns = raw.get("columns") or ()
    rows = raw.get("rows")
    row_count = len(rows) if isinstance(rows, list | tuple) else int(rows or 0)
    return DatasetInfo(
        id=str(raw.get("id") or ""),
        name=str(raw.get("name") or "uploaded dataset"),
        kind=str(raw.get("kind") or "numeric_table"),
        columns=tuple(str(c) for c in columns),
        rows=row_count,
    )


def build_plan(u: Understanding) -> dict[str, Any]:
    """The planner's structured output: ``{"steps": [...], "notes": str | None}``."""
    region = REGION_NAMES[u.region]
    period = u.period()
    steps: list[dict[str, str]] = []
    notes: str | None = f"intent: {u.intent.value}"
    if u.intent is Intent.GRID_TIMING:
        steps.append(
            {
                "kind": "carbon",
                "task": (
                    f"Find the cleanest {hours_label(u.duration.hours)} window "
                    f"for {period.describe()} on the {region} grid ({u.region}), with the "
                    "saving versus running now and versus the day's mean."
                ),
            }
        )
    elif u.intent is Intent.GRID_HISTORY:
        steps.append(
            {
                "kind": "carbon",
                "task": (
                    f"Summarise grid carbon intensity for {period.describe()} on the {region} "
                    f"grid ({u.region}): min, max, mean, low/medium/high periods."
                ),
            }
        )
    elif u.intent is Intent.GRID_COMPARE:
        steps.append({"kind": "carbon", "task": _compare_task(u)})
    elif u.intent is Intent.FACTORS:
        category = extract_category(u.question)
        what = category.replace("_", " ") if category else "every category"
        steps.append(
            {
                "kind": "carbon",
                "task": f"Look up the emission factors for {what} with units, years and sources.",
            }
        )
    elif u.intent is Intent.FOOTPRINT:
        source = (
            f"the uploaded dataset '{u.dataset.name}'"
            if u.dataset is not None and u.dataset.kind == "activity_records"
            else "synthetic activity records for the described company profile (labelled synthetic)"
        )
        steps.append(
            {
                "kind": "carbon",
                "task": f"Estimate the carbon footprint by scope and category from {source}.",
            }
        )
        if u.wants_trend:
            steps.append(
                {
                    "kind": "analysis",
                    "task": (
                        "Analyse the monthly emissions found by the carbon step: trend, "
                        "month-over-month change and anomalies."
                    ),
                }
            )
    elif u.intent is Intent.ANALYSIS:
        source = (
            f"the uploaded dataset '{u.dataset.name}'"
            if u.dataset is not None
            else "synthetic business data (labelled synthetic)"
        )
        steps.append(
            {
                "kind": "analysis",
                "task": f"Analyse {source}: statistics, trend, month-over-month change, anomalies.",
            }
        )
    elif u.intent is Intent.SCENARIOS:
        steps.append(
            {
                "kind": "carbon",
                "task": (
                    "Estimate the baseline footprint by scope and category, then model "
                    "reduction scenarios against it and rank them by saving."
                ),
            }
        )
    else:
        notes = (
            "greeting: answer briefly and describe what the service can do"
            if u.intent is Intent.GREETING
            else "off-topic: say briefly what the service can help with"
        )
    steps.append({"kind": "report", "task": _report_task(u)})
    return {"steps": steps, "notes": notes}


def _compare_task(u: Understanding) -> str:
    if len(u.regions) > 1:
        names = " and ".join(f"{REGION_NAMES[r]} ({r})" for r in u.regions[:2])
        return f"Compare grid carbon intensity of {names} for {u.period().describe()}."
    if len(u.dates) > 1:
        a, b = u.dates[0], u.dates[1]
        return (
            f"Compare grid carbon intensity on the {REGION_NAMES[u.region]} grid ({u.region}) "
            f"for {a.describe()} versus {b.describe()}."
        )
    return (
        f"Compare grid carbon intensity on the {REGION_NAMES[u.region]} grid ({u.region}) "
        f"for {u.period().describe()} with the period before it."
    )


def _report_task(u: Understanding) -> str:
    if u.intent in (Intent.GREETING, Intent.OFF_TOPIC):
        return "Answer briefly and explain what Sustainable City AI can do."
    return (
        "Write the report: executive summary, key figures, ASCII dashboard, chart where "
        "relevant, action items and data provenance (mark synthetic data)."
    )
