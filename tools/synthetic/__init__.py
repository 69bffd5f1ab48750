"""Deterministic, seeded synthetic business data (always labelled synthetic)."""

from tools.synthetic.business import (
    SECTORS,
    BusinessDataset,
    BusinessProfile,
    PlantedAnomaly,
    SalesPoint,
    generate_business_data,
)

__all__ = [
    "SECTORS",
    "BusinessDataset",
    "BusinessProfile",
    "PlantedAnomaly",
    "SalesPoint",
    "generate_business_data",
]
