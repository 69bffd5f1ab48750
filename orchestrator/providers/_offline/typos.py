"""Typo tolerance for the words the offline engine acts on: places, dates, appliances, topics.

A misspelt "tommorow" must not silently become today, and "Belfst" must not fall back to the
default region. Each word of the question that is not a known word is compared with the
engine's vocabulary by Damerau-Levenshtein distance (**rapidfuzz**, C-speed: a question costs
microseconds): one edit for words of 5-7 letters, two from 8 letters. A correction is applied to
the text the rules read AND reported, so the answer says "reading 'tommorow' as 'tomorrow'".
Short words (< 5 letters) are never corrected: too many real words are one edit apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import extractOne

__all__ = ["Correction", "correct_typos"]


def _words(text: str) -> list[str]:
    return text.split()


# Words the rules act on. A word of the question within the allowed distance of one of these
# (and not itself a known word) is read as it.
VOCABULARY: frozenset[str] = frozenset(
    _words(
        """
        today tomorrow yesterday tonight weekend morning afternoon evening overnight monday
        tuesday wednesday thursday friday saturday sunday january february march april june
        july august september october november december dublin galway limerick belfast
        waterford kilkenny killarney sligo athlone dundalk drogheda derry londonderry newry
        lisburn armagh enniskillen omagh london manchester glasgow cardiff edinburgh
        birmingham liverpool leeds bristol sheffield newcastle nottingham leicester aberdeen
        swansea brighton oxford cambridge ireland irish britain british scotland wales england
        kingdom northern island dishwasher washing machine dryer immersion heater charge
        charging vehicle laundry electricity electric footprint emissions emission carbon
        intensity greenest cleanest dirtiest cleaner greener dirtier compare comparison versus
        renewable renewables diesel petrol kerosene heating quarterly annual report business
        company logistics factor factors litres liters gallons kilometres miles flight flights
        tonnes analysis analyse analyze dataset weekly monthly yearly scenario scenarios
        reduce reduction
        """
    )
)

# Real words near a vocabulary word that must be left alone ("sales" is one edit from "wales").
KNOWN: frozenset[str] = frozenset(
    _words(
        """
        sales scales tales whales males dales gales bales cardigan wash washed washes watch
        match march marching charged charges charger large power tower lower hours house
        houses horse source sources carbon carton carbons cartons emit emitted emitting green
        greens greener cleaner cleanest dirty dirtier would could should world words works
        order orders ordered there their these those other others today todays morning
        mornings evenings evening compared compares comparing compact report reports reported
        reporting reduce reduced reduces reducing produce produced production product products
        annually quarter quarters quarterly monthly weekly daily yearly driver drivers drive
        driving drove driven dryers factor factory factors factories favour favor flights
        fights lights nights analyse analysed analysis analyst analysts analytics analyze
        analyzed island islands highland highlands ireland england heating heater heaters
        beating eating seating meaning charging changing charting chatting company companies
        compare derby dover exeter york cork kent essex surrey sussex devon litre liter litres
        liters metre meters metres minutes minute months month weeks week years year days
        hours between because before behind below beyond during without within usage average
        averages storage stage renewable renewables removable reviewable overnight overnights
        weeknight
        """
    )
)


@dataclass(frozen=True, slots=True)
class Correction:
    written: str
    read_as: str


_WORD = re.compile(r"[A-Za-z][a-z]{4,}")


def _limit(word: str) -> int:
    return 1 if len(word) < 8 else 2


def correct_typos(text: str) -> tuple[str, tuple[Correction, ...]]:
    """``text`` with misspelt vocabulary words replaced, and the corrections made."""
    corrections: list[Correction] = []
    seen: dict[str, str | None] = {}

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if lower not in seen:
            seen[lower] = _closest(lower)
        best = seen[lower]
        if best is None:
            return word
        if not any(c.written == word for c in corrections):
            corrections.append(Correction(word, best))
        return best.capitalize() if word[0].isupper() else best

    fixed = _WORD.sub(fix, text)
    return fixed, tuple(corrections)


def _closest(word: str) -> str | None:
    if word in VOCABULARY or word in KNOWN:
        return None
    if word.endswith("s") and (word[:-1] in VOCABULARY or word[:-1] in KNOWN):
        return None
    limit = _limit(word)
    match = extractOne(word, VOCABULARY, scorer=DamerauLevenshtein.distance, score_cutoff=limit)
    if match is None:
        return None
    candidate = str(match[0])
    # Never "correct" across a big length change (abbreviations, other words).
    if abs(len(candidate) - len(word)) > limit or (candidate[0] != word[0] and limit == 1):
        return None
    return candidate
