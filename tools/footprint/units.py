"""Explicit unit conversion: every unit belongs to one dimension with a factor to its base unit.

Conversions only happen within a dimension; anything else is a clear error listing what is
accepted, never a silent guess.
"""

from __future__ import annotations

from tools.catalog_types import ToolError

__all__ = ["DIMENSIONS", "UnitError", "convert", "dimension_of", "normalise_unit", "units_of"]


class UnitError(ToolError):
    """An unknown unit, or one that cannot be converted to what a factor needs."""


# dimension -> {unit: size in the dimension's base unit}; the base unit has size 1.
DIMENSIONS: dict[str, dict[str, float]] = {
    "energy": {"kWh": 1.0, "MWh": 1000.0, "GJ": 1000.0 / 3.6, "MJ": 1.0 / 3.6, "therm": 29.3071},
    "volume": {"litre": 1.0, "m3": 1000.0, "gallon_uk": 4.54609, "gallon_us": 3.785411784},
    "mass": {"kg": 1.0, "tonne": 1000.0},
    "distance": {"km": 1.0, "mile": 1.609344},
    "passenger_distance": {"passenger_km": 1.0, "passenger_mile": 1.609344},
    "freight": {"tonne_km": 1.0},
    "money": {"EUR": 1.0},
}

_ALIASES: dict[str, str] = {
    "kwh": "kWh",
    "mwh": "MWh",
    "gj": "GJ",
    "mj": "MJ",
    "therms": "therm",
    "l": "litre",
    "liter": "litre",
    "liters": "litre",
    "litres": "litre",
    "m³": "m3",
    "cubic_metre": "m3",
    "cubic_meter": "m3",
    "gallon": "gallon_uk",
    "gallons": "gallon_uk",
    "kgs": "kg",
    "t": "tonne",
    "tonnes": "tonne",
    "ton": "tonne",
    "tons": "tonne",
    "kilometre": "km",
    "kilometres": "km",
    "miles": "mile",
    "pkm": "passenger_km",
    "passenger-km": "passenger_km",
    "passenger.km": "passenger_km",
    "passenger_kilometre": "passenger_km",
    "passenger-mile": "passenger_mile",
    "tkm": "tonne_km",
    "tonne-km": "tonne_km",
    "tonne.km": "tonne_km",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "€": "EUR",
}

_UNIT_DIMENSION = {unit: dim for dim, units in DIMENSIONS.items() for unit in units}


def normalise_unit(unit: str) -> str:
    """The canonical spelling of ``unit`` (e.g. "litres" → "litre"), or raise UnitError."""
    text = unit.strip()
    if text in _UNIT_DIMENSION:
        return text
    alias = _ALIASES.get(text.lower().replace(" ", "_"))
    if alias is None:
        alias = next((u for u in _UNIT_DIMENSION if u.lower() == text.lower()), None)
    if alias is None:
        raise UnitError(f"unknown unit {unit!r}; known units: {', '.join(sorted(_UNIT_DIMENSION))}")
    return alias


def dimension_of(unit: str) -> str:
    return _UNIT_DIMENSION[normalise_unit(unit)]


def units_of(dimension: str) -> tuple[str, ...]:
    return tuple(DIMENSIONS[dimension])


def convert(quantity: float, from_unit: str, to_unit: str) -> float:
    """``quantity`` in ``from_unit`` expressed in ``to_unit`` (same dimension only)."""
    source, target = normalise_unit(from_unit), normalise_unit(to_unit)
    if _UNIT_DIMENSION[source] != _UNIT_DIMENSION[target]:
        raise UnitError(
            f"cannot convert {source} ({_UNIT_DIMENSION[source]}) to {target} "
            f"({_UNIT_DIMENSION[target]})"
        )
    dim = DIMENSIONS[_UNIT_DIMENSION[source]]
    return quantity * dim[source] / dim[target]
