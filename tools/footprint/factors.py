"""Emission factors as data: the packaged table plus optional user overrides from config.

Each factor is kgCO2e per one ``unit`` of a ``category`` (electricity also per grid
``region``), with the year and the publication it comes from, so every footprint line can
cite what it used. An override file (TOML ``[[factors]]`` or JSON ``{"factors": [...]}``)
replaces factors with the same (category, region, unit dimension) and adds new ones.
"""

from __future__ import annotations

import functools
import json
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from tools.catalog_types import DataSource, ToolError
from tools.footprint.units import UnitError, convert, dimension_of, normalise_unit, units_of

__all__ = [
    "CATEGORY_ALIASES",
    "EMISSION_FACTORS_SERVICE",
    "EmissionFactor",
    "FactorTable",
    "default_factor_table",
    "load_factor_table",
]

EMISSION_FACTORS_SERVICE = "emission_factors"  # ToolContext.services key for a FactorTable

CATEGORY_ALIASES: dict[str, str] = {
    "gas": "natural_gas",
    "kerosene": "heating_oil",
    "oil": "heating_oil",
    "burning_oil": "heating_oil",
    "power": "electricity",
    "train": "rail",
    "freight": "road_freight",
    "water": "water_supply",
    "waste": "waste_landfill",
    "spend": "purchased_goods_spend",
}


class EmissionFactor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    category: str
    unit: str
    kgco2e_per_unit: float
    year: int
    source: str
    scope: Literal[1, 2, 3]
    ghg_category: str
    region: str | None = None  # grid region for electricity; None = applies everywhere

    @property
    def dimension(self) -> str:
        return dimension_of(self.unit)


class _FactorFile(msgspec.Struct, kw_only=True):
    factors: list[EmissionFactor]
    about: str = ""


class FactorTable:
    """Look up the factor for (category, unit, region) and convert quantities to its unit."""

    def __init__(self, factors: Iterable[EmissionFactor], origin: str) -> None:
        self._factors: dict[tuple[str, str | None, str], EmissionFactor] = {}
        # Memo of successful lookups: a year of records repeats a few (category, unit,
        # region) combinations thousands of times.
        self._memo: dict[tuple[str, str, str | None], tuple[EmissionFactor, float]] = {}
        self._category_names: set[str] = set()
        for factor in factors:
            self._add(factor)
        self.origin = origin

    def _add(self, factor: EmissionFactor) -> None:
        try:
            unit = normalise_unit(factor.unit)
        except UnitError as exc:
            raise ToolError(f"emission factor for {factor.category!r}: {exc}") from exc
        if factor.kgco2e_per_unit < 0:
            raise ToolError(f"emission factor for {factor.category!r} is negative")
        factor = msgspec.structs.replace(factor, unit=unit)
        self._factors[(factor.category, factor.region, dimension_of(unit))] = factor
        self._category_names.add(factor.category)
        self._memo.clear()

    def with_overrides(self, overrides: Iterable[EmissionFactor], origin: str) -> FactorTable:
        table = FactorTable(self._factors.values(), f"{self.origin} + {origin}")
        for factor in overrides:
            table._add(factor)
        return table

    def all(self) -> list[EmissionFactor]:
        return sorted(self._factors.values(), key=lambda f: (f.category, f.region or "", f.unit))

    def categories(self) -> list[str]:
        return sorted(self._category_names)

    def canonical_category(self, category: str) -> str:
        if category in self._category_names:
            return category
        name = category.strip().lower().replace(" ", "_").replace("-", "_")
        name = CATEGORY_ALIASES.get(name, name)
        if name not in self._category_names:
            raise ToolError(
                f"unknown activity category {category!r}; known: {', '.join(self.categories())}"
            )
        return name

    def lookup(self, category: str, unit: str, region: str | None) -> tuple[EmissionFactor, float]:
        """The factor for a record and the multiplier from the record's unit to the factor's.

        Region-specific factors win; a category without one for ``region`` falls back to
        its region-less factor.
        """
        memo_key = (category, unit, region)
        known = self._memo.get(memo_key)
        if known is not None:
            return known
        name = self.canonical_category(category)
        candidates = [f for key, f in self._factors.items() if key[0] == name]
        accepted = sorted({u for f in candidates for u in units_of(f.dimension)})
        try:
            dim = dimension_of(unit)
        except UnitError as exc:
            raise UnitError(
                f"unit {unit!r} for {name}: accepted units are {', '.join(accepted)}"
            ) from exc
        matching = [f for f in candidates if f.dimension == dim]
        per_passenger = dim == "distance" and not matching
        if per_passenger:
            # "km" of a trip priced per passenger-km: one passenger travelled that distance.
            matching = [f for f in candidates if f.dimension == "passenger_distance"]
        if not matching:
            raise UnitError(f"unit {unit!r} for {name}: accepted units are {', '.join(accepted)}")
        regional = [f for f in matching if f.region == region]
        generic = [f for f in matching if f.region is None]
        if regional:
            factor = regional[0]
        elif generic:
            factor = generic[0]
        else:
            regions = sorted(f.region or "" for f in matching)
            raise ToolError(
                f"no {name} factor for region {region!r}; regions with factors: "
                f"{', '.join(regions)}"
            )
        if per_passenger:
            found = (factor, convert(1.0, unit, "km") / convert(1.0, factor.unit, "passenger_km"))
        else:
            found = (factor, convert(1.0, unit, factor.unit))
        self._memo[memo_key] = found
        return found

    def data_source(self) -> DataSource:
        return DataSource(
            name="emission factors",
            kind="emission_factors",
            synthetic=False,
            detail=self.origin,
        )


def _packaged() -> list[EmissionFactor]:
    raw = resources.files("tools.footprint").joinpath("factors.json").read_bytes()
    return msgspec.json.decode(raw, type=_FactorFile).factors


@functools.cache
def default_factor_table() -> FactorTable:
    """The packaged factors (DESNZ/DEFRA 2023, SEAI), parsed once."""
    return FactorTable(_packaged(), "packaged factors (DESNZ/DEFRA 2023, SEAI 2023)")


def load_factor_table(
    overrides_path: str | None = None, inline: Iterable[EmissionFactor] = ()
) -> FactorTable:
    """The packaged table, with the factors of ``overrides_path`` (TOML or JSON) applied, then
    the ``inline`` ones (``[[tools.emission_factors]]`` in the configuration)."""
    table = _with_file(default_factor_table(), overrides_path)
    inline = tuple(inline)
    if inline:
        table = table.with_overrides(inline, "[[tools.emission_factors]] in the configuration")
    return table


def _with_file(base: FactorTable, overrides_path: str | None) -> FactorTable:
    if overrides_path is None:
        return base
    path = Path(overrides_path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ToolError(f"cannot read emission factors file {overrides_path}: {exc}") from exc
    try:
        data = tomllib.loads(text.decode()) if path.suffix.lower() == ".toml" else json.loads(text)
        parsed = msgspec.convert(data, type=_FactorFile)
    except (ValueError, msgspec.ValidationError) as exc:
        raise ToolError(f"invalid emission factors file {overrides_path}: {exc}") from exc
    return base.with_overrides(parsed.factors, f"overrides from {path.name}")
