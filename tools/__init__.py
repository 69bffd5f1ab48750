"""Sustainable City AI domain tools: grid CO2 intensity, carbon footprints, synthetic business
data, analysis, dashboards and charts. Pure library: imports nothing else of this project.

Callers reach the tools through :data:`CATALOG` / :func:`get_tool`; the modules below are
also usable directly (e.g. ``parse_upload`` for the service's dataset uploads).
"""

from tools.analysis.upload import ParsedUpload, UploadError, UploadLimits, parse_upload
from tools.catalog import CATALOG, TOOL_NAMES, get_tool
from tools.catalog_types import (
    ChartOutput,
    Dataset,
    DataSource,
    ToolContext,
    ToolDefinition,
    ToolError,
    ToolOutput,
    model_payload,
    strict_json_schema,
)
from tools.footprint import (
    EMISSION_FACTORS_SERVICE,
    ActivityRecord,
    EmissionFactor,
    FactorTable,
    UnitError,
    load_factor_table,
)
from tools.grid import (
    GRID_SOURCE_SERVICE,
    GridDataError,
    GridSeries,
    GridSource,
    IntensityPoint,
    SyntheticGridSource,
    build_source,
)
from tools.synthetic import BusinessProfile, generate_business_data

__all__ = [
    "CATALOG",
    "EMISSION_FACTORS_SERVICE",
    "GRID_SOURCE_SERVICE",
    "TOOL_NAMES",
    "ActivityRecord",
    "BusinessProfile",
    "ChartOutput",
    "DataSource",
    "Dataset",
    "EmissionFactor",
    "FactorTable",
    "GridDataError",
    "GridSeries",
    "GridSource",
    "IntensityPoint",
    "ParsedUpload",
    "SyntheticGridSource",
    "ToolContext",
    "ToolDefinition",
    "ToolError",
    "ToolOutput",
    "UnitError",
    "UploadError",
    "UploadLimits",
    "build_source",
    "generate_business_data",
    "get_tool",
    "load_factor_table",
    "model_payload",
    "parse_upload",
    "strict_json_schema",
]
