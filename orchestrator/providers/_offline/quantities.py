"""Quantities the user states ("12,000 kWh of electricity", "3k litres of diesel", "1.2 MWh"),
read into amounts of an emission-factor activity in that factor's unit.

Units are parsed and converted with **pint** (dimensional analysis: a volume is never read as
an energy, a MWh is exactly 1,000 kWh, a UK gallon is 4.546 L). The words around the number
decide the activity (electricity, diesel, a flight...); the unit alone decides it only where it
is unambiguous (kWh on its own is electricity). A quantity whose activity cannot be told is
kept with ``activity=None`` so the answer can ask for it instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["StatedQuantity", "extract_quantities", "extract_shares", "unit_registry"]


@dataclass(frozen=True, slots=True)
class StatedQuantity:
    """One stated amount: ``value`` in ``unit`` (the factor's unit) of ``activity``."""

    phrase: str  # the words it came from, as written
    amount: float  # as written, in ``stated_unit``
    stated_unit: str
    value: float  # converted to ``unit``
    unit: str  # kWh, litre, m3, km, passenger_km, tonne, tonne_km
    activity: str | None  # an emission-factor category, None when the text does not say
    start: int  # position in the text (so parts of a question keep their own quantities)


@cache
def unit_registry() -> Any:
    """pint's registry, built once per process on first use (~0.3 s)."""
    import pint

    return pint.UnitRegistry()


# Written unit -> pint unit name. Longest first in the pattern, so "MWh" is not read as "M".
_UNITS: dict[str, str] = {
    "kwh": "kilowatt_hour",
    "kilowatt hours": "kilowatt_hour",
    "kilowatt-hours": "kilowatt_hour",
    "kilowatt hour": "kilowatt_hour",
    "kw h": "kilowatt_hour",
    "mwh": "megawatt_hour",
    "megawatt hours": "megawatt_hour",
    "megawatt-hours": "megawatt_hour",
    "megawatt hour": "megawatt_hour",
    "gwh": "gigawatt_hour",
    "gigawatt hours": "gigawatt_hour",
    "wh": "watt_hour",
    "gj": "gigajoule",
    "mj": "megajoule",
    "therms": "therm",
    "therm": "therm",
    "litres": "liter",
    "liters": "liter",
    "litre": "liter",
    "liter": "liter",
    "ltrs": "liter",
    "ltr": "liter",
    "l": "liter",
    "gallons": "imperial_gallon",
    "gallon": "imperial_gallon",
    "us gallons": "gallon",
    "m3": "meter ** 3",
    "m³": "meter ** 3",
    "cubic metres": "meter ** 3",
    "cubic meters": "meter ** 3",
    "cubic metre": "meter ** 3",
    "kg": "kilogram",
    "kilograms": "kilogram",
    "kilos": "kilogram",
    "tonnes": "metric_ton",
    "tonne": "metric_ton",
    "tons": "metric_ton",
    "ton": "metric_ton",
    "t": "metric_ton",
    "km": "kilometer",
    "kms": "kilometer",
    "kilometres": "kilometer",
    "kilometers": "kilometer",
    "kilometre": "kilometer",
    "miles": "mile",
    "mile": "mile",
    "passenger km": "kilometer",
    "passenger-km": "kilometer",
    "tonne km": "tonne_km",
    "tonne-km": "tonne_km",
    "tonne-kilometres": "tonne_km",
}
_UNIT_PATTERN = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?:(k|m|thousand|million)\b)?"
_QUANTITY = re.compile(
    r"(?<![\w.])" + _NUMBER + r"\s*(" + _UNIT_PATTERN + r")(?![\w³])", re.IGNORECASE
)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}

# Activity words: (pattern, category). Specific first: "heating oil" before "oil".
_ACTIVITIES: list[tuple[str, str]] = [
    (r"heating oil|kerosene|home heating", "heating_oil"),
    (r"\blpg\b|propane", "lpg"),
    (r"\bhvo\b|renewable diesel", "hvo"),
    (r"natural gas|\bgas\b", "natural_gas"),
    (r"diesel", "diesel"),
    (r"petrol|gasoline", "petrol"),
    (r"electric(?:ity)?|power|grid|consumption|usage|\bload\b", "electricity"),
    (r"long[- ]haul", "flight_long_haul_economy"),
    (r"domestic flight", "flight_domestic"),
    (r"flights?|flying|\bflew\b|\bfly\b|air travel|by air|by plane", "flight_short_haul_economy"),
    (r"\bby train\b|\brail\b|\btrains?\b", "rail"),
    (r"\bby bus\b|\bbus(?:es)?\b|coach", "bus"),
    (r"electric (?:car|vehicle|van)|\bev\b", "car_electric"),
    (r"diesel (?:car|vehicle)", "car_diesel"),
    (r"petrol (?:car|vehicle)", "car_petrol"),
    (r"\bvans?\b", "van_diesel"),
    (r"\bcars?\b|driv(?:e|ing|en)|\bdrove\b|commut", "car_average"),
    (r"freight|haulage|shipping|deliver", "road_freight"),
    (r"landfill|general waste|\bwaste\b|rubbish", "waste_landfill"),
    (r"incinerat", "waste_incineration"),
    (r"recycl", "waste_recycling"),
    (r"compost", "waste_composting"),
    (r"water", "water_supply"),
]

# The factor unit each activity is counted in, by pint dimension.
_ENERGY, _VOLUME, _MASS, _LENGTH = "energy", "volume", "mass", "length"
_FACTOR_UNITS: dict[str, dict[str, str]] = {
    "electricity": {_ENERGY: "kWh"},
    "natural_gas": {_ENERGY: "kWh", _VOLUME: "m3"},
    "heating_oil": {_VOLUME: "litre", _ENERGY: "kWh"},
    "lpg": {_VOLUME: "litre", _ENERGY: "kWh"},
    "diesel": {_VOLUME: "litre"},
    "petrol": {_VOLUME: "litre"},
    "hvo": {_VOLUME: "litre"},
    "water_supply": {_VOLUME: "m3"},
    "road_freight": {"freight": "tonne_km"},
}
_PINT_UNIT = {"kWh": "kilowatt_hour", "litre": "liter", "m3": "meter ** 3", "km": "kilometer"}


def _dimension(unit: Any) -> str | None:
    dims = str(unit.dimensionality)
    if dims == "[mass] * [length] ** 2 / [time] ** 2":
        return _ENERGY
    if dims == "[length] ** 3":
        return _VOLUME
    if dims == "[mass]":
        return _MASS
    if dims == "[length]":
        return _LENGTH
    return None


def _activities_near(text: str, start: int, end: int) -> list[str]:
    """The activities named right after the quantity ("of diesel"), then just before it, most
    specific first; the caller takes the first whose unit fits ("15,000 km in a diesel car" is
    car-km, not litres of diesel)."""
    after = text[end : end + 40].lower()
    after = re.split(r"[,;.?!]| and | plus ", after, maxsplit=1)[0]
    before = text[max(0, start - 40) : start].lower()
    before = re.split(r"[,;.?!]| and | plus ", before)[-1]
    found: list[str] = []
    for window in (after, before):
        for pattern, category in _ACTIVITIES:
            if re.search(pattern, window) and category not in found:
                found.append(category)
    return found


def _convert(amount: float, pint_unit: str, activity: str | None) -> tuple[float, str] | None:
    """``amount`` of ``pint_unit`` in the factor unit of ``activity``; None when the
    dimensions do not fit (e.g. litres of electricity)."""
    if pint_unit == "tonne_km":
        return amount, "tonne_km"
    ureg = unit_registry()
    quantity = ureg.Quantity(amount, pint_unit)
    dimension = _dimension(quantity.units)
    if dimension is None:
        return None
    if activity is not None and activity in _FACTOR_UNITS:
        target = _FACTOR_UNITS[activity].get(dimension)
        if target is None:
            return None
    elif dimension == _ENERGY:
        target = "kWh"
    elif dimension == _VOLUME:
        target = "litre"
    elif dimension == _MASS:
        target = "tonne"
    else:
        target = "passenger_km" if activity and activity.split("_")[0] in ("flight",) else "km"
        if activity in ("rail", "bus"):
            target = "passenger_km"
    pint_target = {"tonne": "metric_ton", "passenger_km": "kilometer"}.get(
        target, _PINT_UNIT.get(target, target)
    )
    return float(quantity.to(pint_target).magnitude), target


_DISTANCE_ACTIVITIES = ("car_", "van_", "flight_", "rail", "bus")


def _fits(activity: str, unit: str) -> bool:
    """Whether an activity without a fuel unit table is counted in ``unit``."""
    if unit in ("km", "passenger_km"):
        return activity.startswith(_DISTANCE_ACTIVITIES)
    if unit == "tonne":
        return activity.startswith("waste_")
    return False


def extract_quantities(text: str) -> list[StatedQuantity]:
    """Every number-with-a-unit in ``text``, in order, converted to its activity's unit."""
    out: list[StatedQuantity] = []
    for m in _QUANTITY.finditer(text):
        raw, scale, written = m.group(1), m.group(2), m.group(3)
        amount = float(raw.replace(",", "")) * (_SCALE[scale.lower()] if scale else 1.0)
        if amount <= 0:
            continue
        pint_unit = _UNITS[written.lower()]
        candidates = _activities_near(text, m.start(), m.end())
        if pint_unit.endswith("watt_hour") and not any(c in _FACTOR_UNITS for c in candidates):
            # An energy amount is electricity unless a fuel is named ("kWh of gas"): "50 kWh
            # of EV charging" is electricity, not car-km.
            candidates = ["electricity"]
        activity: str | None = None
        converted = None
        for candidate in candidates:
            converted = _convert(amount, pint_unit, candidate)
            if converted is not None and (
                candidate in _FACTOR_UNITS or _fits(candidate, converted[1])
            ):
                activity = candidate
                break
            converted = None
        if converted is None:
            # No named activity fits the unit ("litres of electricity"), or none is named.
            converted = _convert(amount, pint_unit, None)
        if converted is None:
            continue
        value, unit = converted
        out.append(
            StatedQuantity(
                phrase=m.group(0).strip(),
                amount=amount,
                stated_unit=written,
                value=value,
                unit=unit,
                activity=activity,
                start=m.start(),
            )
        )
    return out


# --------------------------------------------------------------------------------- shares

_SHARE_WORDS: list[tuple[str, float]] = [
    (r"\bhalf\b", 50.0),
    (r"\ba third\b|\bone third\b", 100.0 / 3),
    (r"\btwo thirds\b", 200.0 / 3),
    (r"\ba quarter\b|\bone quarter\b", 25.0),
    (r"\bthree quarters\b", 75.0),
    (r"\ball (?:of )?(?:our|my|the)\b", 100.0),
]


def extract_shares(text: str) -> list[float]:
    """Shares the user states, in percent: "30%", "30 percent", "half", "a third"."""
    out: list[float] = []
    for m in re.finditer(r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", text, re.I):
        value = float(m.group(1))
        if 0 < value <= 100:
            out.append(value)
    if not out:
        for pattern, value in _SHARE_WORDS:
            if re.search(pattern, text, re.IGNORECASE):
                out.append(round(value, 2))
                break
    return out
