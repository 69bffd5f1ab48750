"""Intent classification and planning for the offline engine.

The planner reads the question once into an :class:`Understanding` (intent plus the extracted
parameters); every later step re-derives the same understanding from the same hints, so the
steps never have to parse the planner's prose. Rules are keyword based and ordered; they are
documented in ``README.md ("The offline engine")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    extract_category,
    extract_dates,
    extract_duration,
    extract_energy_kwh,
    extract_hours,
    extract_profile,
    extract_regions,
    hours_label,
)

__all__ = ["Intent", "Understanding", "build_plan", "understand"]


class Intent(StrEnum):
    GRID_TIMING = "grid_timing"  # when is the grid cleanest / best time to run a load
    GRID_HISTORY = "grid_history"  # how green was (or will be) the grid over a period
    GRID_COMPARE = "grid_compare"  # two periods or two regions side by side
    FACTORS = "factors"  # emission factors of an activity (diesel, electricity, flights...)
    FOOTPRINT = "footprint"  # a company's carbon footprint
    ANALYSIS = "analysis"  # statistics/trends/anomalies of a table
    SCENARIOS = "scenarios"  # how to reduce emissions, what-if
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
    r"\bdryer\b|\bwindow\b|\bshould i\b|\bideal time\b",
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
    if previous is None or _has_topic(question) or current.intent is Intent.GREETING:
        return current
    if not (current.dates or current.regions or _FOLLOW_UP.match(question)):
        return current
    before = _read(previous, dataset, today)
    if before.intent in (Intent.GREETING, Intent.OFF_TOPIC):
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
        for pattern in (_GRID, _TIMING, _FOOTPRINT, _FACTORS, _ANALYSIS, _SCENARIO, _COMPANY)
    )


def _read(question: str, dataset: DatasetInfo | None, today: date) -> Understanding:
    dates = tuple(extract_dates(question, today))
    regions = tuple(extract_regions(question))
    intent = classify(question, dataset, dates=len(dates), regions=len(regions))
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
    )


def classify(question: str, dataset: DatasetInfo | None, *, dates: int, regions: int) -> Intent:
    """Ordered rules: the most specific intent that the question's words support wins."""
    text = question.strip()
    if not text or _GREETING.match(text):
        return Intent.GREETING
    grid = _GRID.search(text) is not None
    if _SCENARIO.search(text) and (
        _FOOTPRINT.search(text)
        or _COMPANY.search(text)
        or _LEVER.search(text)
        or re.search(r"emission|co2|carbon", text, re.I)
    ):
        return Intent.SCENARIOS
    if _FACTORS.search(text) and not _COMPANY.search(text):
        return Intent.FACTORS
    if _FOOTPRINT.search(text) or (
        _COMPANY.search(text) and re.search(r"\bemission|\bco2\b|\bcarbon\b", text, re.I)
    ):
        return Intent.FOOTPRINT
    if dataset is not None and (_ANALYSIS.search(text) or not (grid or _TIMING.search(text))):
        if dataset.kind == "activity_records" and not _ANALYSIS.search(text):
            return Intent.FOOTPRINT
        return Intent.ANALYSIS
    if _ANALYSIS.search(text) and not grid:
        return Intent.ANALYSIS
    compare = _COMPARE.search(text) is not None
    if compare and dates > 1:
        return Intent.GRID_COMPARE
    if grid or _TIMING.search(text) or regions:
        if compare or (dates > 0 and regions > 1) or dates > 1:
            return Intent.GRID_COMPARE
        if _TIMING.search(text) and not re.search(r"\bhow (?:green|clean)\b", text, re.I):
            return Intent.GRID_TIMING
        return Intent.GRID_HISTORY
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
