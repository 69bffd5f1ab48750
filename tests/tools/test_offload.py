"""CPU-bound tool work runs on one shared thread; long grid ranges are generated and analysed
there, short ones inline, and the numbers are the same either way."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime

from tools.catalog_types import ToolContext
from tools.cpu import run_cpu_bound
from tools.grid import GRID_SOURCE_SERVICE, SyntheticGridSource
from tools.grid.model import IntensityPoint, Region
from tools.grid.tools import GridIntensityInput, grid_intensity, intensity_view

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)


class RecordingSource(SyntheticGridSource):
    """The synthetic source, noting which thread generated each range."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def range_points(
        self, region: Region, start: date, end: date, now: datetime
    ) -> list[IntensityPoint]:
        self.threads.append(threading.get_ident())
        return super().range_points(region, start, end, now)


async def test_a_day_is_generated_inline_and_a_month_in_a_worker_thread() -> None:
    source = RecordingSource()
    day = await source.fetch("ie", date(2026, 3, 1), date(2026, 3, 1), NOW)
    month = await source.fetch("ie", date(2026, 2, 1), date(2026, 2, 28), NOW)
    loop_thread = threading.get_ident()
    assert source.threads[0] == loop_thread
    assert source.threads[1] != loop_thread
    assert len(day.points) == 96
    assert len(month.points) == 28 * 96
    assert month.points == tuple(
        source.range_points("ie", date(2026, 2, 1), date(2026, 2, 28), NOW)
    )


async def test_a_month_of_grid_intensity_off_the_loop_equals_the_inline_analysis() -> None:
    source = SyntheticGridSource()
    ctx = ToolContext(now=NOW.isoformat(), services={GRID_SOURCE_SERVICE: source})
    args = GridIntensityInput(region="all", start_date="2026-01-01", end_date="2026-01-31")
    result = await grid_intensity(args, ctx)
    inline = intensity_view(await source.fetch("all", date(2026, 1, 1), date(2026, 1, 31), NOW))
    assert result == inline
    assert result.synthetic


def squares(n: int) -> int:
    return sum(i * i for i in range(20_000 + n))


async def test_cpu_bound_work_shares_one_thread_so_the_loop_keeps_the_gil_half_the_time() -> None:
    running = 0
    peak = 0
    threads: set[int] = set()
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threads.add(threading.get_ident())
        total = squares(n)
        with lock:
            running -= 1
        return total

    results = await asyncio.gather(*(run_cpu_bound(work, n) for n in range(8)))
    assert results == [squares(n) for n in range(8)]
    assert peak == 1
    assert len(threads) == 1
    assert threading.get_ident() not in threads
