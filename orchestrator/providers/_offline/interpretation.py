"""How the offline engine read a question: one typed :class:`Interpretation`, stated to the user.

A question is read in four passes, each a documented rule set:

1. typos in the words the engine acts on are corrected (``typos``) and each correction is
   reported ("reading 'tommorow' as 'tomorrow'");
2. the question is split into **asks** at question marks and at "and when/what/how ..." so a
   multi-part question gets every part answered; a sentence without a question of its own
   ("We are a 40-person office in Cork.") stays with the question after it;
3. each ask is read by ``intent`` (intent, places, dates, quantities with pint units, shares,
   appliance, dataset); an ask without a place inherits the question's place;
4. what could not be read is said, never replaced: an impossible date or an unknown place
   makes its ask INVALID with the reason; a default (region, load length, a synthetic company)
   is stated as an assumption.

Every step of a run re-reads the same hints, so the planner, the steps and the report agree
on the reading without parsing each other's prose. :class:`Interpretation` is the wire form
(msgspec): the planner's ``agent_response`` event carries it as ``data.interpretation``, and the
report opens with :meth:`Interpretation.summary` ("I read this as: ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import msgspec

from orchestrator.providers._offline.extract import (
    REGION_NAMES,
    DateRange,
    extract_category,
    hours_label,
)
from orchestrator.providers._offline.intent import (
    Intent,
    Understanding,
    understand,
)
from orchestrator.providers._offline.typos import Correction, correct_typos

__all__ = [
    "STEP_OF_INTENT",
    "AskView",
    "Interpretation",
    "PeriodView",
    "QuantityView",
    "Reading",
    "future_part",
    "interpret",
    "rank_period",
    "report_period",
]

# Which step kind answers an ask of each intent (None: the report answers it in words).
STEP_OF_INTENT: dict[Intent, str | None] = {
    Intent.GRID_TIMING: "carbon",
    Intent.GRID_HISTORY: "carbon",
    Intent.GRID_COMPARE: "carbon",
    Intent.GRID_RANK: "carbon",
    Intent.NOW_CHECK: "carbon",
    Intent.FACTORS: "carbon",
    Intent.CONVERSION: "carbon",
    Intent.FOOTPRINT: "carbon",
    Intent.SCENARIOS: "carbon",
    Intent.SHIFT_SAVINGS: "carbon",
    Intent.COMPANY_REPORT: "carbon",
    Intent.ANALYSIS: "analysis",
    Intent.NEEDS: None,
    Intent.INVALID: None,
    Intent.GREETING: None,
    Intent.OFF_TOPIC: None,
}
_GRID_INTENTS = (
    Intent.GRID_TIMING,
    Intent.GRID_HISTORY,
    Intent.GRID_COMPARE,
    Intent.GRID_RANK,
    Intent.NOW_CHECK,
    Intent.SHIFT_SAVINGS,
)


class PeriodView(msgspec.Struct, frozen=True):
    start: str
    end: str
    label: str


class QuantityView(msgspec.Struct, frozen=True):
    phrase: str
    amount: float
    stated_unit: str
    value: float
    unit: str
    activity: str | None


class AskView(msgspec.Struct, frozen=True, kw_only=True):
    """One ask as read: what is asked, about where and when, with which of the user's figures."""

    intent: str
    text: str
    regions: list[str]
    region_stated: bool
    periods: list[PeriodView]
    duration_hours: float | None
    duration: str | None
    hours: str | None
    quantities: list[QuantityView]
    shares_pct: list[float]
    appliance: str | None
    dataset: str | None
    compare: str | None  # "periods" or "regions" for a comparison
    rank: str | None  # e.g. "greenest day"
    problems: list[str]
    needs: str | None
    described: str  # the ask in words, as the summary line states it


class Interpretation(msgspec.Struct, frozen=True, kw_only=True):
    question: str
    read_as: str  # the question after typo corrections
    asks: list[AskView]
    notices: list[str]

    def summary(self) -> str:
        """One line that says what will be answered."""
        parts = [ask.described for ask in self.asks]
        if len(parts) == 1:
            return f"I read this as: {parts[0]}."
        numbered = "; ".join(f"({i}) {p}" for i, p in enumerate(parts, 1))
        return f"I read this as {len(parts)} questions: {numbered}."


@dataclass(frozen=True, slots=True)
class Reading:
    """The engine's working form: one :class:`Understanding` per ask, plus the notices."""

    question: str
    corrected: str
    asks: tuple[Understanding, ...]
    corrections: tuple[Correction, ...]
    today: date

    def steps(self, kind: str) -> list[tuple[int, Understanding]]:
        """The asks (with their index) that the step ``kind`` answers, in order."""
        return [(i, u) for i, u in enumerate(self.asks) if STEP_OF_INTENT.get(u.intent) == kind]

    def view(self) -> Interpretation:
        return Interpretation(
            question=self.question,
            read_as=self.corrected,
            asks=[_ask_view(u) for u in self.asks],
            notices=self.notices(),
        )

    def notices(self) -> list[str]:
        out = [_correction_notice(c, self.today) for c in self.corrections]
        for u in self.asks:
            out += _assumptions(u)  # an invalid ask's problems are its answer, said once
        return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------------- split

_SPLIT = re.compile(
    r"(?<=[?!])\s+|;\s+(?=(?:and\s+)?(?:when|what|how|which|is|should|can|where|compare|tell "
    r"me)\b)|,?\s+and also\s+|\s+also,?\s+(?=(?:when|what|how|which|is|should|can)\b)|"
    r",?\s+and\s+(?=(?:when|what|how|which|is it|is now|should|can|where|compare|tell me)\b)"
    r"(?!\w+\s+(?:is|was|has|does|did|are|were)\s+(?:it|its|that|this|they)\b)",
    re.IGNORECASE,
)
# A part that only gives context: a statement about the asker ("I want to run the dishwasher.",
# "We have 120 staff.") rather than a question of its own.
_CONTEXT = re.compile(
    r"^\s*(?:i|we|i'm|we're|i've|we've|our|my|it|it's|there|they|this is|the (?:company|"
    r"business|office|firm))\b(?![^?]*\?\s*$)",
    re.IGNORECASE,
)


def split_parts(text: str) -> list[str]:
    """The question's parts: at "?", "!", "; when/what/...", "and also" and "and
    when/what/how/which/...".

    A statement about the asker ("I want to run the dishwasher.", "We have 120 staff.") is
    context: it joins the question before it (or, first, the question after it).
    """
    parts: list[str] = []
    pending = ""
    for raw in _SPLIT.split(text):
        part = (raw or "").strip()
        if not part:
            continue
        if _CONTEXT.search(part) is not None:
            if parts:
                parts[-1] = f"{parts[-1]} {part}"
            else:
                pending = f"{pending}{part} "
            continue
        parts.append(f"{pending}{part}")
        pending = ""
    if pending:
        if parts:
            parts[-1] = f"{parts[-1]} {pending.strip()}"
        else:
            parts.append(pending.strip())
    return parts or [text.strip()]


# -------------------------------------------------------------------------------- interpret


def interpret(hints: dict[str, Any], today: date) -> Reading:
    """Read ``hints["question"]`` (with ``hints`` history and dataset) into a :class:`Reading`."""
    question = str(hints.get("question") or "")
    corrected, corrections = correct_typos(question)
    parts = split_parts(corrected)
    asks: list[Understanding] = []
    for index, part in enumerate(parts):
        part_hints = {**hints, "question": part}
        if index > 0:
            # A later part without topic words of its own ("What about London?") continues
            # the part before it, as a follow-up continues a conversation.
            part_hints["history"] = [{"question": parts[index - 1], "answer": ""}]
        asks.append(understand(part_hints, today))
    asks = _drop_courtesies(asks)
    asks = _inherit(asks)
    return Reading(question, corrected, tuple(asks), corrections, today)


def _drop_courtesies(asks: list[Understanding]) -> list[Understanding]:
    """ "Hi! When is ..." answers the question; a greeting alone is answered as one."""
    real = [u for u in asks if u.intent is not Intent.GREETING]
    return real or asks[:1]


def _inherit(asks: list[Understanding]) -> list[Understanding]:
    """An ask without a place uses the place another part named; a company ask without a
    profile uses the profile stated elsewhere in the question."""
    regions = next((u.regions for u in asks if u.regions), ())
    profile = next((u.profile for u in asks if not u.profile.is_empty), None)
    out: list[Understanding] = []
    for u in asks:
        if not u.regions and regions:
            u = replace(u, regions=regions)
        if profile is not None and u.profile.is_empty:
            u = replace(u, profile=profile)
        out.append(u)
    return out


# ------------------------------------------------------------------------------- describe


def _period_view(p: DateRange) -> PeriodView:
    return PeriodView(p.start.isoformat(), p.end.isoformat(), p.label)


def _ask_view(u: Understanding) -> AskView:
    compare = None
    if u.intent is Intent.GRID_COMPARE:
        compare = "regions" if len(u.regions) > 1 else "periods"
    return AskView(
        intent=u.intent.value,
        text=u.question,
        regions=list(u.regions) or [u.region],
        region_stated=u.region_stated,
        periods=[_period_view(p) for p in u.dates],
        duration_hours=u.duration.hours if u.intent in _GRID_INTENTS else None,
        duration=u.duration.reason if u.intent in _GRID_INTENTS else None,
        hours=u.hours.reason if u.hours else None,
        quantities=[
            QuantityView(q.phrase, q.amount, q.stated_unit, round(q.value, 6), q.unit, q.activity)
            for q in u.quantities
        ],
        shares_pct=list(u.shares),
        appliance=u.appliance,
        dataset=u.dataset.name if u.dataset else None,
        compare=compare,
        rank=f"{u.rank.extreme} {u.rank.bucket}" if u.rank else None,
        problems=list(u.problems),
        needs=u.needs,
        described=describe(u),
    )


def _hours_adjective(hours: float) -> str:
    return f"{hours:g}-hour"


def _grid(u: Understanding) -> str:
    return f"the {REGION_NAMES[u.region]} grid"


_UNIT_WORDS = {"litre": "L", "passenger_km": "passenger-km", "tonne_km": "tonne-km"}


def quantity_text(value: float, unit: str) -> str:
    shown = f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"
    return f"{shown} {_UNIT_WORDS.get(unit, unit)}"


def activities_text(u: Understanding) -> str:
    items: list[str] = []
    for q in u.quantities:
        what = (q.activity or "an unnamed activity").replace("_", " ")
        if q.activity == "electricity":
            what = f"electricity ({REGION_NAMES[u.region]} grid factor)"
        converted = "" if abs(q.amount - q.value) < 1e-9 else f", {q.phrase}"
        items.append(f"{quantity_text(q.value, q.unit)} of {what}{converted}")
    return " and ".join(items)


def describe(u: Understanding) -> str:
    """The ask in one clause, with the concrete dates, place and figures that will be used."""
    period = u.period()
    when = period.describe()
    intent = u.intent
    if intent is Intent.GRID_TIMING:
        when = future_part(period, u.today).describe()
        load = f" to run the {u.appliance}" if u.appliance else ""
        limit = f", {u.hours.reason}" if u.hours else ""
        return (
            f"the cleanest {_hours_adjective(u.duration.hours)} window{load} for {when}{limit} on "
            f"{_grid(u)}"
        )
    if intent is Intent.NOW_CHECK:
        load = f"run the {u.appliance}" if u.appliance else "use electricity"
        return f"whether now is a good time to {load} on {_grid(u)}, and if not, when is"
    if intent is Intent.GRID_RANK and u.rank is not None:
        bucket = "hour of the day" if u.rank.bucket == "hour" else u.rank.bucket
        return f"the {u.rank.extreme} {bucket} in {rank_period(u).describe()} on {_grid(u)}"
    if intent is Intent.GRID_HISTORY:
        return f"grid carbon intensity for {when} on {_grid(u)}"
    if intent is Intent.GRID_COMPARE:
        if len(u.regions) > 1:
            names = " versus ".join(REGION_NAMES[r] for r in u.regions[:2])
            return f"grid carbon intensity of {names} for {when}"
        if len(u.dates) > 1:
            return (
                f"grid carbon intensity on {_grid(u)}: {u.dates[0].describe()} versus "
                f"{u.dates[1].describe()}"
            )
        return f"grid carbon intensity on {_grid(u)} for {when} versus the period before it"
    if intent is Intent.FOOTPRINT:
        if u.quantities:
            year = f", for {u.dates[0].describe()}" if u.dates else ""
            return f"the footprint of {activities_text(u)}{year}"
        if u.dataset is not None and u.dataset.kind == "activity_records":
            return f"the footprint of the activity records in your dataset '{u.dataset.name}'"
        return "a company footprint, with no figures of yours given: a SYNTHETIC company profile"
    if intent is Intent.CONVERSION:
        if u.quantities:
            return f"the CO2e of {activities_text(u)}"
        category = extract_category(u.question)
        what = category.replace("_", " ") if category else "the activity named"
        return f"the emission factor of {what} (kgCO2e per unit; no amount given)"
    if intent is Intent.FACTORS:
        return "the emission factors of the activity named, with sources"
    if intent is Intent.SHIFT_SAVINGS:
        share = f"{u.shares[0]:g}% of " if u.shares else ""
        energy = [q for q in u.quantities if q.activity == "electricity"]
        amount = quantity_text(energy[0].value, "kWh") if energy else "your load"
        return (
            f"the saving from moving {share}{amount} to the cleanest "
            f"{_hours_adjective(u.duration.hours)} window for {when} on {_grid(u)}"
        )
    if intent is Intent.SCENARIOS:
        return "reduction scenarios against a baseline footprint"
    if intent is Intent.COMPANY_REPORT:
        sector = u.profile.sector or "office"
        covered_period = report_period(u)
        covered = f" for {covered_period.describe()}" if covered_period is not None else ""
        return (
            f"a report for a {sector} company{covered}, on SYNTHETIC data (no figures of yours "
            "given)"
        )
    if intent is Intent.ANALYSIS:
        source = f"your dataset '{u.dataset.name}'" if u.dataset else "SYNTHETIC business data"
        return f"an analysis of {source}"
    if intent is Intent.NEEDS:
        return f"a request the offline engine cannot answer (it needs {u.needs})"
    if intent is Intent.INVALID:
        return "a question I cannot answer as written (why below)"
    if intent is Intent.GREETING:
        return "a greeting or a request for help"
    return "a question outside sustainability and business data"


def report_period(u: Understanding) -> DateRange | None:
    """The period a company report covers: the one named; else the last complete quarter
    for a quarterly report and the last complete year for an annual one."""
    if u.dates:
        return u.dates[0]
    if u.intent is not Intent.COMPANY_REPORT:
        return None
    today = u.today
    if re.search(r"\bquarter|\bq[1-4]\b", u.question, re.IGNORECASE):
        quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        end = quarter_start - timedelta(days=1)
        start = date(end.year, end.month - 2, 1)
        return DateRange(start, end, "the last complete quarter")
    if re.search(r"\bmonth", u.question, re.IGNORECASE):
        end = today.replace(day=1) - timedelta(days=1)
        return DateRange(end.replace(day=1), end, "the last complete month")
    return DateRange(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), "last year")


def future_part(period: DateRange, today: date) -> DateRange:
    """A load can only be scheduled from today on: "this week" means today to Sunday and
    "this month" today to the month's last day."""
    if not period.start <= today <= period.end:
        return period
    end = period.end
    if period.label == "this week so far":
        end = today + timedelta(days=6 - today.weekday())
    elif period.label == "this month":
        end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return DateRange(today, end, period.label.replace(" so far", ""))


def rank_period(u: Understanding) -> DateRange:
    """The period a ranking covers: the one named, else the past 7 days (stated)."""
    if u.dates:
        return u.dates[0]
    return DateRange(u.today - timedelta(days=7), u.today - timedelta(days=1), "the past 7 days")


def _correction_notice(c: Correction, today: date) -> str:
    extra = ""
    word = c.read_as.lower()
    if word == "tomorrow":
        extra = f", {(today + timedelta(days=1)).isoformat()}"
    elif word == "yesterday":
        extra = f", {(today - timedelta(days=1)).isoformat()}"
    elif word in ("today", "tonight"):
        extra = f", {today.isoformat()}"
    return f"Reading '{c.written}' as '{word}'{extra}."


def _assumptions(u: Understanding) -> list[str]:
    out: list[str] = []
    uses_region = u.intent in _GRID_INTENTS or (
        u.intent in (Intent.FOOTPRINT, Intent.CONVERSION)
        and any(q.activity == "electricity" for q in u.quantities)
    )
    if uses_region and not u.region_stated:
        out.append(f"No place named: using the {REGION_NAMES[u.region]} grid (the default).")
    if u.intent in (Intent.GRID_TIMING, Intent.SHIFT_SAVINGS) and u.duration.reason.endswith(
        "(default)"
    ):
        out.append(f"No load length given: assuming {hours_label(u.duration.hours)} (the default).")
    if u.intent is Intent.GRID_RANK and not u.dates:
        out.append("No period named: ranking the past 7 days.")
    if u.intent is Intent.CONVERSION and not u.quantities:
        out.append(
            "No amount given: showing the factor per unit; give the amount (kWh, litres, km) "
            "for a total."
        )
    missing = [q for q in u.quantities if q.activity is None]
    for q in missing:
        out.append(
            f"I could not tell what '{q.phrase}' is of (say e.g. 'of diesel' or 'of "
            "electricity'); it is left out."
        )
    if u.intent is Intent.SHIFT_SAVINGS and not any(
        q.activity == "electricity" for q in u.quantities
    ):
        out.append(
            "No amount of electricity given: the saving is shown per kWh moved; give the "
            "amount in kWh for a total."
        )
    if u.intent in (Intent.FOOTPRINT, Intent.SCENARIOS, Intent.COMPANY_REPORT) and not (
        u.quantities or (u.dataset is not None and u.dataset.kind == "activity_records")
    ):
        sector = u.profile.sector or "office"
        out.append(
            f"You gave no figures of your own, so this uses a SYNTHETIC {sector} company "
            "profile (labelled as such); give your kWh, litres or km, or upload activity data, "
            "for your real footprint."
        )
    return out
