"""The ``analyze_table`` tool: statistics on the run's dataset or an inline series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from tools.analysis.stats import (
    Anomaly,
    Contributor,
    Descriptive,
    MonthValue,
    Observation,
    TrendFit,
    anomalies,
    describe,
    month_key,
    monthly,
    pareto,
    trend,
)
from tools.catalog_types import Dataset, DataSource, ToolContext, ToolError
from tools.footprint.records import ActivityRecord

__all__ = ["AnalysisResult", "AnalyzeTableInput", "SeriesPoint", "analyze_table"]

_MODEL_LIMIT = 36


class SeriesPoint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    value: float
    date: str | None = None  # YYYY-MM-DD or YYYY-MM
    label: str | None = None  # e.g. site or category, for the Pareto breakdown


class AnalyzeTableInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    use_dataset: bool | None = None
    series: list[SeriesPoint] | None = None
    records: list[ActivityRecord] | None = None
    value_column: str | None = None
    date_column: str | None = None
    label_column: str | None = None
    filter_column: str | None = None
    filter_value: str | None = None
    value_name: str | None = None
    revenue_eur: Annotated[float, msgspec.Meta(gt=0)] | None = None
    employees: Annotated[float, msgspec.Meta(gt=0)] | None = None
    units: Annotated[float, msgspec.Meta(gt=0)] | None = None


class AnalysisResult(msgspec.Struct, frozen=True, kw_only=True):
    value_name: str
    count: int
    filtered_by: str | None
    descriptive: Descriptive
    monthly: tuple[MonthValue, ...]
    trend: TrendFit | None
    anomaly_basis: str  # "monthly totals" or "values"
    anomalies: tuple[Anomaly, ...]
    pareto: tuple[Contributor, ...]
    pareto_80_count: int  # how many labels make up 80% of the total
    intensity: dict[str, float]
    sources: tuple[DataSource, ...]

    def summary(self) -> str:
        d = self.descriptive
        trend_text = (
            f", trend {self.trend.direction} (R² {self.trend.r_squared:.2f})" if self.trend else ""
        )
        return (
            f"Analysed {self.count} values of {self.value_name}: total {d.total:,.2f}, mean "
            f"{d.mean:,.2f}{trend_text}, {len(self.anomalies)} anomalies"
        )

    def data_sources(self) -> Sequence[DataSource]:
        return self.sources

    def for_model(self) -> dict[str, Any]:
        payload: dict[str, Any] = msgspec.to_builtins(self)
        for key in ("monthly", "anomalies", "pareto"):
            if len(payload[key]) > _MODEL_LIMIT:
                payload[f"{key}_omitted"] = len(payload[key]) - _MODEL_LIMIT
                payload[key] = (
                    payload[key][-_MODEL_LIMIT:]
                    if key == "monthly"
                    else payload[key][:_MODEL_LIMIT]
                )
        return payload


def _column(columns: Sequence[str], wanted: str, role: str) -> str:
    name = wanted.strip().lower().replace(" ", "_")
    if name not in columns:
        raise ToolError(f"no {role} column {wanted!r}; columns: {', '.join(columns)}")
    return name


def _pick(
    columns: Sequence[str], wanted: str | None, defaults: Sequence[str], role: str
) -> str | None:
    if wanted is not None:
        return _column(columns, wanted, role)
    return next((c for c in defaults if c in columns), None)


def _from_dataset(
    args: AnalyzeTableInput, dataset: Dataset
) -> tuple[list[Observation], str, str | None]:
    rows = list(dataset.rows)
    columns = list(dataset.columns)
    filtered_by = None
    if args.filter_column is not None:
        column = _column(columns, args.filter_column, "filter")
        wanted = (args.filter_value or "").strip().lower()
        rows = [r for r in rows if str(r.get(column) or "").strip().lower() == wanted]
        filtered_by = f"{column} = {args.filter_value}"
        if not rows:
            raise ToolError(f"no rows where {filtered_by}")
    is_activity = dataset.kind == "activity_records"
    numeric = [c for c in columns if any(isinstance(r.get(c), int | float) for r in rows)]
    value_col = _pick(columns, args.value_column, ["quantity"] if is_activity else numeric, "value")
    if value_col is None:
        raise ToolError("the dataset has no numeric column to analyse")
    if is_activity and value_col == "quantity":
        units = sorted({str(r.get("unit")) for r in rows})
        if len(units) > 1:
            raise ToolError(
                f"rows mix units ({', '.join(units)}); set filter_column='category' and "
                "filter_value to one category"
            )
    date_col = _pick(columns, args.date_column, ("date", "month", "period"), "date")
    label_defaults = ["site", "category"] if filtered_by else ["category", "site"]
    # Otherwise the first text column (e.g. a region or product name) groups the Pareto.
    label_defaults += [c for c in columns if c not in numeric and c not in (date_col, value_col)]
    label_col = _pick(columns, args.label_column, label_defaults, "label")
    observations: list[Observation] = []
    for index, row in enumerate(rows, start=1):
        value = row.get(value_col)
        if value is None:
            continue
        if not isinstance(value, int | float):
            raise ToolError(f"row {index}: {value_col} is not a number ({value!r})")
        month = None
        if date_col is not None and row.get(date_col) is not None:
            month = month_key(str(row[date_col]), f"row {index}")
        label = None if label_col is None or row.get(label_col) is None else str(row[label_col])
        observations.append(Observation(value=float(value), month=month, label=label))
    return observations, value_col, filtered_by


def analyze_table(args: AnalyzeTableInput, ctx: ToolContext) -> AnalysisResult:
    if sum([bool(args.use_dataset), bool(args.series), bool(args.records)]) != 1:
        raise ToolError(
            "give exactly one of: use_dataset=true, series (a list of values) or records "
            "(activity records)"
        )
    if args.use_dataset:
        if ctx.dataset is None:
            raise ToolError("no dataset is attached to this run; upload one or pass series")
        observations, value_name, filtered_by = _from_dataset(args, ctx.dataset)
        source = DataSource(
            name=f"uploaded dataset {ctx.dataset.name}", kind="upload", synthetic=False
        )
    elif args.records:
        inline = Dataset(
            id="inline",
            name="records from the request",
            kind="activity_records",
            columns=ActivityRecord.__struct_fields__,
            rows=tuple(msgspec.to_builtins(r) for r in args.records),
        )
        observations, value_name, filtered_by = _from_dataset(args, inline)
        source = DataSource(
            name="activity records from the request", kind="inline", synthetic=False
        )
    else:
        assert args.series is not None
        observations = [
            Observation(
                value=p.value,
                month=None if p.date is None else month_key(p.date, f"series item {i}"),
                label=p.label,
            )
            for i, p in enumerate(args.series, start=1)
        ]
        value_name, filtered_by = "value", None
        source = DataSource(name="series from the request", kind="inline", synthetic=False)
    if not observations:
        raise ToolError("no values to analyse")
    values = [o.value for o in observations]
    by_month = monthly(observations)
    if len(by_month) >= 2:
        month_values = [m.value for m in by_month]
        fit = trend(month_values, "month")
        found = anomalies([m.month for m in by_month], month_values)
        basis = "monthly totals"
    else:
        fit = trend(values, "row")
        keys = [o.label or f"row {i}" for i, o in enumerate(observations, start=1)]
        found = anomalies(keys, values)
        basis = "values"
    contributors = pareto(observations)
    top80 = next((i for i, c in enumerate(contributors, 1) if c.cumulative_pct >= 80.0), 0)
    stats = describe(values)
    intensity: dict[str, float] = {}
    for key, denominator in (
        ("per_eur_revenue", args.revenue_eur),
        ("per_employee", args.employees),
        ("per_unit", args.units),
    ):
        if denominator is not None:
            if denominator <= 0:
                raise ToolError(f"{key.removeprefix('per_')} must be positive")
            intensity[key] = round(stats.total / denominator, 6)
    return AnalysisResult(
        value_name=args.value_name or value_name,
        count=len(values),
        filtered_by=filtered_by,
        descriptive=stats,
        monthly=tuple(by_month),
        trend=fit,
        anomaly_basis=basis,
        anomalies=tuple(found),
        pareto=tuple(contributors),
        pareto_80_count=top80,
        intensity=intensity,
        sources=(source,),
    )
