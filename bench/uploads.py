"""Upload parsing cost per MB: narrow and 50,000-column files, CSV and JSON (issue 14, row 1).

Run from the repository root: ``.venv/bin/python -m bench.uploads [--sizes 0.5,1,2,4] [--repeat 3]``

``parse_upload`` used to look columns up in lists, so a wide file cost time in proportion to
the *square* of its columns (40,000 columns in a 0.35 MB CSV: 20.8 s of CPU). This measures
the CPU time per MB of four shapes at several sizes, with the limits raised so 50,000
columns are accepted. The baseline, measured in the same run, is the narrow CSV at the
first size: every other cell of the table is its ratio to that. Linear parsing shows as
ratios that stay flat as the size grows (a quadratic parser's would grow with it), and as
wide files costing about what narrow ones do per MB. CPU time of the best of ``--repeat``
runs: the figure a busy machine distorts least. Prints a Markdown table.

``--loop-lag``: instead, how late an event loop's 5 ms timer fires while 0, 1 and 2 uploads
of a 5 MB narrow JSON file are parsed the way the service parses them (``parse_off_loop``: a
worker thread, the service's default caps), which is what other requests of the same worker
feel.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from tools.analysis.upload import UploadLimits, parse_upload

_WIDE_COLUMNS = 50_000
_LIMITS = UploadLimits(
    max_columns=_WIDE_COLUMNS, max_cells=50_000_000, max_json_depth=8, cpu_budget_s=None
)
_MB = 1_000_000


def _rows_to_size(header: str, row: str, size: int, joiner: str) -> str:
    count = max(1, (size - len(header)) // (len(row) + len(joiner)))
    return header + joiner.join([row] * count)


def narrow_csv(size: int) -> bytes:
    header = "month,site,revenue,cost,energy_kwh,water_m3,staff,visitors\n"
    row = "2026-01,Dublin,12500.5,8300.25,1500.75,32.5,14,2310"
    return (_rows_to_size(header, row, size, "\n") + "\n").encode()


def wide_csv(size: int) -> bytes:
    header = ",".join(f"c{i}" for i in range(_WIDE_COLUMNS)) + "\n"
    row = ",".join(str(i % 97) for i in range(_WIDE_COLUMNS))
    return (_rows_to_size(header, row, size, "\n") + "\n").encode()


def narrow_json(size: int) -> bytes:
    row = (
        '{"month": "2026-01", "site": "Dublin", "revenue": 12500.5, "cost": 8300.25, '
        '"energy_kwh": 1500.75, "water_m3": 32.5, "staff": 14, "visitors": 2310}'
    )
    return (_rows_to_size("[", row, size, ", ") + "]").encode()


def wide_json(size: int) -> bytes:
    row = "{" + ", ".join(f'"c{i}": {i % 97}' for i in range(_WIDE_COLUMNS)) + "}"
    return (_rows_to_size("[", row, size, ", ") + "]").encode()


SHAPES: dict[str, tuple[Callable[[int], bytes], str]] = {
    "narrow CSV (8 columns)": (narrow_csv, "a.csv"),
    f"wide CSV ({_WIDE_COLUMNS:,} columns)": (wide_csv, "a.csv"),
    "narrow JSON (8 keys)": (narrow_json, "a.json"),
    f"wide JSON ({_WIDE_COLUMNS:,} keys)": (wide_json, "a.json"),
}


def cpu_seconds(content: bytes, filename: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        parse_upload(content, filename, max_rows=10_000_000, limits=_LIMITS)
        best = min(best, time.process_time() - started)
    return best


async def _timer_lateness(stop: asyncio.Event) -> list[float]:
    late: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        late.append((time.perf_counter() - started - 0.005) * 1000.0)
    return late


async def _lag_while_parsing(parses: int, content: bytes) -> tuple[float, list[float]]:
    from app.datasets.parsing import ParseSlots, parse_off_loop
    from app.settings import DatasetSettings

    settings = DatasetSettings(max_rows=1_000_000)
    stop = asyncio.Event()
    timer = asyncio.create_task(_timer_lateness(stop))
    started = time.perf_counter()
    if parses:
        slots = ParseSlots(parses)
        jobs = (parse_off_loop(content, "a.json", settings, slots) for _ in range(parses))
        await asyncio.gather(*jobs)
    else:
        await asyncio.sleep(1.5)
    wall = time.perf_counter() - started
    stop.set()
    return wall, sorted(await timer)


def loop_lag() -> None:
    content = narrow_json(5 * _MB)
    print("| Uploads parsed at once (5 MB JSON) | wall | timer late p50 | p99 | max |")
    print("|---|---:|---:|---:|---:|")
    for parses in (0, 1, 2):
        wall, late = asyncio.run(_lag_while_parsing(parses, content))
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
        print(
            f"| {parses} | {wall:.2f} s | {statistics.median(late):.1f} ms | {p99:.1f} ms "
            f"| {late[-1]:.1f} ms |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="0.5,1,2,4", help="file sizes in MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop-lag", action="store_true", help="measure event-loop lag instead")
    args = parser.parse_args()
    if args.loop_lag:
        loop_lag()
        return
    sizes = [float(s) for s in args.sizes.split(",")]
    table: dict[str, list[tuple[int, float]]] = {}
    for shape, (make, filename) in SHAPES.items():
        for size in sizes:
            content = make(int(size * _MB))
            seconds = cpu_seconds(content, filename, args.repeat)
            table.setdefault(shape, []).append((len(content), seconds))
    baseline_bytes, baseline_s = table[next(iter(SHAPES))][0]
    baseline = baseline_s / baseline_bytes * _MB
    head = " | ".join(f"{s:g} MB" for s in sizes)
    print(f"Baseline: narrow CSV at {sizes[0]:g} MB = {baseline * 1000:.0f} ms CPU per MB.\n")
    print(f"| File (CPU ms per MB, and x baseline) | {head} |")
    print("|---|" + "---:|" * len(sizes))
    for shape, cells in table.items():
        shown = []
        for length, seconds in cells:
            per_mb = seconds / length * _MB
            shown.append(f"{per_mb * 1000:.0f} ms ({per_mb / baseline:.2f}x)")
        print(f"| {shape} | {' | '.join(shown)} |")


if __name__ == "__main__":
    main()
