"""Domain tool benchmarks: the two workloads tools must handle well under 50 ms.

Run from the repository root: ``.venv/bin/python -m bench.tools [--repeat 30]``

1. **Grid month**: one month of 15-minute all-island points (30 days, 2,880 points) through
   the full grid analysis (span view, percentile thresholds, classification, period merging,
   stats, trend) plus the best 3-hour window search.
2. **Footprint year**: a year of activity records (10,000 rows across categories, units and
   sites) through the footprint estimator (factor lookup, unit conversion, totals by scope,
   category, month and site).
3. **Upload parse**: the same 10,000 rows as CSV through ``parse_upload`` (the datasets
   endpoint's cost).

Each workload is timed next to a trivial baseline over the same data in the same run (a
plain-Python mean of the values; a plain sum of quantity x one factor; ``csv.reader`` over
the text), so the ratio says what the real computation costs beyond touching the data.
Peak memory is the tracemalloc peak of one extra run. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from tools.analysis import parse_upload
from tools.footprint import ActivityRecord, default_factor_table, estimate_footprint
from tools.grid.analysis import best_window
from tools.grid.synthetic import SyntheticGridSource
from tools.grid.tools import intensity_view

_CATEGORIES = (
    ("electricity", "kWh", 1200.0),
    ("natural_gas", "kWh", 900.0),
    ("natural_gas", "m3", 80.0),
    ("diesel", "litre", 150.0),
    ("petrol", "gallon_uk", 20.0),
    ("flight_short_haul_economy", "passenger_km", 2400.0),
    ("rail", "passenger_km", 300.0),
    ("road_freight", "tonne_km", 5000.0),
    ("waste_landfill", "kg", 400.0),
    ("water_supply", "m3", 30.0),
)


def _time(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run (CPU time is what a loaded machine distorts
    least; wall time is what a caller waits)."""
    fn()  # warm-up (imports, caches)
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - start_cpu) * 1000.0)
        wall.append((time.perf_counter() - start) * 1000.0)
    return sorted(wall), sorted(cpu)


def _peak_kib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024.0


def _records(count: int) -> list[ActivityRecord]:
    records = []
    for index in range(count):
        category, unit, quantity = _CATEGORIES[index % len(_CATEGORIES)]
        day = date(2025, 1, 1) + timedelta(days=index % 365)
        records.append(
            ActivityRecord(
                date=day.isoformat(),
                category=category,
                quantity=quantity * (1 + (index % 7) / 10),
                unit=unit,
                site=f"Site {index % 12}",
                region=("ie", "ni", "gb")[index % 3] if category == "electricity" else None,
            )
        )
    return records


def _csv(records: list[ActivityRecord]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["date", "category", "quantity", "unit", "site", "region"])
    for r in records:
        writer.writerow([r.date, r.category, r.quantity, r.unit, r.site, r.region or ""])
    return buffer.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    now = datetime(2026, 12, 1, tzinfo=UTC)
    series = asyncio.run(
        SyntheticGridSource().fetch("all", date(2026, 10, 1), date(2026, 10, 30), now)
    )
    values = [p.value for p in series.points]
    step = timedelta(minutes=series.step_minutes)

    def grid_month() -> object:
        view = intensity_view(series)
        return view, best_window(series.points, timedelta(hours=3), step)

    def grid_baseline() -> object:
        return sum(values) / len(values)

    records = _records(10_000)
    table = default_factor_table()

    def footprint_year() -> object:
        return estimate_footprint(records, table, "ie")

    def footprint_baseline() -> object:
        return sum(r.quantity * 0.2 for r in records)

    content = _csv(records)

    def upload() -> object:
        return parse_upload(content, "year.csv", max_rows=100_000)

    def upload_baseline() -> object:
        return list(csv.reader(io.StringIO(content.decode())))

    rows = [
        (
            "Grid month analysis + best 3 h window",
            f"{len(values):,} points",
            grid_month,
            grid_baseline,
        ),
        (
            "Footprint of a year of records",
            f"{len(records):,} rows",
            footprint_year,
            footprint_baseline,
        ),
        (
            "parse_upload of the same rows (CSV)",
            f"{len(content) / 1024:,.0f} KiB",
            upload,
            upload_baseline,
        ),
    ]
    print(f"Repeat: {args.repeat} runs per workload (after one warm-up); times in ms.\n")
    print(
        "| Workload | Size | CPU median | wall median | wall p95 | peak memory "
        "| baseline CPU median | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, size, fn, baseline in rows:
        wall, cpu = _time(fn, args.repeat)
        _, base_cpu = _time(baseline, args.repeat)
        median, base = statistics.median(cpu), statistics.median(base_cpu)
        p95 = wall[min(len(wall) - 1, round(0.95 * (len(wall) - 1)))]
        peak = _peak_kib(fn)
        ratio = f"{median / base:,.0f}x" if base > 0 else "n/a"
        print(
            f"| {name} | {size} | {median:.2f} | {statistics.median(wall):.2f} | {p95:.2f} "
            f"| {peak:,.0f} KiB | {base:.3f} | {ratio} |"
        )


if __name__ == "__main__":
    main()
