"""Carbon footprint estimation: emission factors as data, unit conversion, the estimator."""

from tools.footprint.estimate import FootprintLine, FootprintTotals, estimate_footprint
from tools.footprint.factors import (
    EMISSION_FACTORS_SERVICE,
    EmissionFactor,
    FactorTable,
    default_factor_table,
    load_factor_table,
)
from tools.footprint.records import ActivityRecord, records_from_rows
from tools.footprint.units import UnitError, convert

__all__ = [
    "EMISSION_FACTORS_SERVICE",
    "ActivityRecord",
    "EmissionFactor",
    "FactorTable",
    "FootprintLine",
    "FootprintTotals",
    "UnitError",
    "convert",
    "default_factor_table",
    "estimate_footprint",
    "load_factor_table",
    "records_from_rows",
]
