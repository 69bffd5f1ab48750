"""Statistics, the analyze_table tool and CSV/JSON upload parsing."""

from __future__ import annotations

import math

import pytest

from tools.analysis import ParsedUpload, UploadError, parse_upload
from tools.analysis.stats import Observation, anomalies, describe, monthly, pareto, trend
from tools.analysis.tools import AnalyzeTableInput, SeriesPoint, analyze_table
from tools.catalog_types import Dataset, ToolContext, ToolError
from tools.footprint import ActivityRecord

CTX = ToolContext(now="2026-11-26T09:00:00Z")


def test_describe_exact() -> None:
    stats = describe([2, 4, 4, 4, 5, 5, 7, 9])
    assert (stats.count, stats.total, stats.mean, stats.median) == (8, 40, 5, 4.5)
    assert stats.std == round(math.sqrt(32 / 7), 4)
    assert (stats.min, stats.max, stats.p25, stats.p75) == (2, 9, 4, 5.5)
    assert describe([3.0]).std == 0.0
    with pytest.raises(ToolError, match="no values"):
        describe([])


def test_monthly_mom_and_yoy() -> None:
    rows = monthly(
        [
            Observation(value=100, month="2025-01"),
            Observation(value=110, month="2025-02"),
            Observation(value=120, month="2026-01"),
            Observation(value=30, month="2026-01"),
        ]
    )
    assert [(m.month, m.value, m.mom_pct, m.yoy_pct) for m in rows] == [
        ("2025-01", 100, None, None),
        ("2025-02", 110, 10.0, None),
        ("2026-01", 150, None, 50.0),  # no December 2025 to compare with
    ]


def test_trend_on_a_perfect_line_and_a_flat_one() -> None:
    fit = trend([1, 3, 5, 7], "month")
    assert fit is not None
    assert (fit.slope, fit.intercept, fit.r_squared, fit.direction) == (2, 1, 1, "rising")
    flat = trend([10, 10, 10], "row")
    assert flat is not None
    assert (flat.slope, flat.r_squared, flat.direction) == (0, 0, "flat")
    assert trend([5], "row") is None


def test_anomalies_by_robust_z_and_iqr() -> None:
    values = [10.0, 11, 10, 12, 11, 10, 50, 11]
    found = anomalies([f"m{i}" for i in range(8)], values)
    assert [(a.key, a.methods) for a in found] == [("m6", ("robust_z", "iqr"))]
    assert found[0].robust_z == round(0.6745 * 39 / 1, 3)
    assert anomalies(["a", "b", "c"], [1, 2, 100]) == []  # too few points to judge


def test_pareto_shares() -> None:
    obs = [
        Observation(value=30, label="B"),
        Observation(value=50, label="A"),
        Observation(value=10, label="C"),
        Observation(value=5, label="C"),
        Observation(value=5, label="D"),
    ]
    assert [(c.label, c.share_pct, c.cumulative_pct) for c in pareto(obs)] == [
        ("A", 50, 50),
        ("B", 30, 80),
        ("C", 15, 95),
        ("D", 5, 100),
    ]


def test_analyze_inline_series_with_intensity_ratios() -> None:
    series = [
        SeriesPoint(value=v, date=f"2026-{m:02d}", label=None)
        for m, v in enumerate([100, 120, 90, 300, 110, 100], 1)
    ]
    result = analyze_table(
        AnalyzeTableInput(series=series, value_name="kgCO2e", revenue_eur=41000, employees=8), CTX
    )
    assert result.descriptive.total == 820
    assert result.anomaly_basis == "monthly totals"
    assert [a.key for a in result.anomalies] == ["2026-04"]
    assert result.monthly[1].mom_pct == 20.0
    assert result.intensity == {"per_eur_revenue": 0.02, "per_employee": 102.5}
    assert result.value_name == "kgCO2e"
    assert "820" in result.summary()


def test_analyze_dataset_filters_and_groups() -> None:
    dataset = Dataset(
        id="d",
        name="bills.csv",
        kind="activity_records",
        columns=("date", "category", "quantity", "unit", "site"),
        rows=(
            {
                "date": "2026-01-05",
                "category": "electricity",
                "quantity": 100.0,
                "unit": "kWh",
                "site": "A",
            },
            {
                "date": "2026-01-20",
                "category": "electricity",
                "quantity": 50.0,
                "unit": "kWh",
                "site": "B",
            },
            {
                "date": "2026-02-05",
                "category": "electricity",
                "quantity": 120.0,
                "unit": "kWh",
                "site": "A",
            },
            {
                "date": "2026-02-05",
                "category": "diesel",
                "quantity": 40.0,
                "unit": "litre",
                "site": "A",
            },
        ),
    )
    ctx = ToolContext(dataset=dataset)
    result = analyze_table(
        AnalyzeTableInput(use_dataset=True, filter_column="category", filter_value="Electricity"),
        ctx,
    )
    assert result.filtered_by == "category = Electricity"
    assert [(m.month, m.value) for m in result.monthly] == [("2026-01", 150), ("2026-02", 120)]
    assert [(c.label, c.value) for c in result.pareto] == [("A", 220), ("B", 50)]
    with pytest.raises(ToolError, match=r"rows mix units \(kWh, litre\)"):
        analyze_table(AnalyzeTableInput(use_dataset=True), ctx)
    with pytest.raises(ToolError, match="no value column 'price'"):
        analyze_table(AnalyzeTableInput(use_dataset=True, value_column="price"), ctx)
    with pytest.raises(ToolError, match="no rows where"):
        analyze_table(
            AnalyzeTableInput(use_dataset=True, filter_column="site", filter_value="Z"), ctx
        )


def test_analyze_numeric_table_picks_the_first_numeric_and_text_columns() -> None:
    upload = parse_upload(
        b"month,product,revenue,orders\n2026-01,A,1000,10\n2026-02,B,1500,12\n2026-03,A,900,9\n",
        "s.csv",
        10,
    )
    result = analyze_table(
        AnalyzeTableInput(use_dataset=True), ToolContext(dataset=upload.to_dataset("x", "s.csv"))
    )
    assert result.value_name == "revenue"
    assert result.descriptive.total == 3400
    assert result.monthly[-1].mom_pct == -40.0
    assert [(c.label, c.value) for c in result.pareto] == [("A", 1900), ("B", 1500)]


def test_analyze_inline_activity_records() -> None:
    records = [
        ActivityRecord(
            date="2026-01-10", category="electricity", quantity=100, unit="kWh", site="A"
        ),
        ActivityRecord(
            date="2026-02-10", category="electricity", quantity=80, unit="kWh", site="B"
        ),
        ActivityRecord(date="2026-02-11", category="diesel", quantity=5, unit="litre", site="B"),
    ]
    result = analyze_table(
        AnalyzeTableInput(records=records, filter_column="category", filter_value="electricity"),
        CTX,
    )
    assert [(m.month, m.value, m.mom_pct) for m in result.monthly] == [
        ("2026-01", 100, None),
        ("2026-02", 80, -20.0),
    ]
    assert result.sources[0].kind == "inline"
    with pytest.raises(ToolError, match="no values to analyse"):
        analyze_table(AnalyzeTableInput(records=records, value_column="cost"), CTX)


def test_analyze_needs_exactly_one_input() -> None:
    with pytest.raises(ToolError, match="exactly one"):
        analyze_table(AnalyzeTableInput(), CTX)
    with pytest.raises(ToolError, match="no dataset is attached"):
        analyze_table(AnalyzeTableInput(use_dataset=True), CTX)
    with pytest.raises(ToolError, match="positive"):
        analyze_table(AnalyzeTableInput(series=[SeriesPoint(value=1)], employees=0), CTX)
    with pytest.raises(ToolError, match="series item 1"):
        analyze_table(AnalyzeTableInput(series=[SeriesPoint(value=1, date="soon")]), CTX)


# ------------------------------------------------------------------------------ uploads


def test_parse_activity_csv() -> None:
    content = (
        "\ufeffDate,Category,Quantity,Unit,Site,Cost\n"
        "2026-01-01,electricity,1200.5,kWh,Dublin,360\n"
        "\n"
        '2026-01-01,natural_gas,"1,500",kWh,Dublin,\n'
        "2026-02-01,moonbeams,1,kg,,\n"
    ).encode()
    parsed = parse_upload(content, "bills.csv", max_rows=100)
    assert parsed.kind == "activity_records"
    assert parsed.columns == ("date", "category", "quantity", "unit", "site", "cost")
    assert parsed.rows[0]["quantity"] == 1200.5
    assert parsed.rows[0]["cost"] == 360.0
    assert parsed.rows[1]["quantity"] == 1500.0
    assert parsed.rows[1]["cost"] is None
    assert parsed.warnings[0] == "1 blank line(s) skipped"
    assert parsed.warnings[1].startswith(
        "line 5: category 'moonbeams' has no packaged emission factor"
    )


def test_non_numeric_quantity_names_the_line() -> None:
    with pytest.raises(UploadError, match=r"line 3: quantity must be a number, got '1,5'"):
        parse_upload(
            b'date,category,quantity,unit\n2026-01-01,lpg,2,litre\n2026-01-02,lpg,"1,5",litre\n',
            "a.csv",
            10,
        )


def test_parse_numeric_csv_and_json() -> None:
    csv_upload = parse_upload(
        b'month,revenue,units\n2026-01,"12,500.50",3\n2026-02,9000,\n', "s.csv", 10
    )
    assert csv_upload.kind == "numeric_table"
    assert csv_upload.rows == (
        {"month": "2026-01", "revenue": 12500.5, "units": 3.0},
        {"month": "2026-02", "revenue": 9000.0, "units": None},
    )
    assert csv_upload.warnings == ("text columns: month",)
    json_upload = parse_upload(
        b'{"rows": [{"Month": "2026-01", "Revenue": 5}, {"Month": "2026-02", "Revenue": 7}]}',
        "s.json",
        10,
    )
    assert json_upload == ParsedUpload(
        kind="numeric_table",
        columns=("month", "revenue"),
        rows=({"month": "2026-01", "revenue": 5.0}, {"month": "2026-02", "revenue": 7.0}),
        warnings=("text columns: month",),
    )


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "a.csv", "empty"),
        (b"a,b\n", "a.csv", "no data rows"),
        (b"\xff\xfe\x00a", "a.csv", "not UTF-8"),
        (b"a,b\n1,2\n3\n", "a.csv", "line 3: expected 2 fields, got 1"),
        (b"a,a\n1,2\n", "a.csv", "duplicate column 'a'"),
        (b"a,,c\n1,2,3\n", "a.csv", "every column needs a name"),
        (b"name,city\nann,cork\n", "a.csv", "no numeric column"),
        (
            b"v\n1\n2\n3\n4\nfive\n",
            "a.csv",
            r"column 'v' is numeric but has non-numbers \(line 6: 'five'\)",
        ),
        (
            b"date,category,quantity,unit\n2026-01-01,lpg,,litre\n",
            "a.csv",
            "line 2: missing quantity",
        ),
        (b"[1, 2]", "a.json", "list of objects"),
        (b"{bad", "a.json", "line 1: invalid JSON"),
        (b'[{"a": {"b": 1}}]', "a.json", "row 1: column 'a' must be a plain value"),
    ],
)
def test_upload_errors_are_specific(content: bytes, name: str, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        parse_upload(content, name, max_rows=100)


def test_size_limit() -> None:
    with pytest.raises(UploadError, match="the file is 12 bytes; the limit is 10"):
        parse_upload(b"v\n1\n2\n3\n4\n5\n", "a.csv", max_rows=100, max_bytes=10)
    assert len(parse_upload(b"v\n1\n", "a.csv", max_rows=100, max_bytes=10).rows) == 1


def test_row_limit() -> None:
    content = b"v\n" + b"".join(f"{i}\n".encode() for i in range(11))
    with pytest.raises(UploadError, match="the limit is 10"):
        parse_upload(content, "a.csv", max_rows=10)
    assert len(parse_upload(content, "a.csv", max_rows=11).rows) == 11
    with pytest.raises(UploadError, match="the limit is 1"):
        parse_upload(b'[{"v": 1}, {"v": 2}]', "a.json", max_rows=1)
