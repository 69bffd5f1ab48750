"""The chart renderer: charts drawn in a separate process are the same charts, a dead worker
is a tool error followed by a fresh pool, and closing stops the processes."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

import pytest

from tools.catalog_types import ToolContext, ToolError
from tools.render.executor import RENDERER_SERVICE, ChartRenderer, renderer_from_context
from tools.render.tools import RenderChartInput, render_chart

NOW = "2026-11-26T09:00:00Z"


def _pid(**_: object) -> bytes:
    """Runs in the renderer: which process (and thread) drew it."""
    return f"{os.getpid()}:{threading.get_ident()}".encode()


def _die(**_: object) -> bytes:
    os._exit(3)  # a renderer process killed mid-chart (OOM killer, signal)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def renderer() -> Iterator[ChartRenderer]:
    shared = ChartRenderer(processes=1)
    yield shared
    asyncio.run(shared.aclose())


async def test_charts_drawn_in_the_renderer_process_equal_in_thread_charts(
    renderer: ChartRenderer,
) -> None:
    args = RenderChartInput(
        kind="grid_intensity",
        region="ie",
        start_date="2026-11-26",
        best_window_hours=2,
        include_png=True,
    )
    in_thread = await render_chart(args, ToolContext(now=NOW))
    in_process = await render_chart(
        args, ToolContext(now=NOW, services={RENDERER_SERVICE: renderer})
    )
    assert renderer.started
    assert in_process.svg == in_thread.svg
    assert in_process.chart_id == in_thread.chart_id
    assert in_process.png_base64 == in_thread.png_base64
    pid, _ = (await renderer.render(_pid)).decode().split(":")
    assert int(pid) != os.getpid()


async def test_a_dead_renderer_process_fails_one_chart_then_a_new_pool_serves(
    renderer: ChartRenderer,
) -> None:
    old_pid = int((await renderer.render(_pid)).decode().split(":")[0])
    with pytest.raises(ToolError, match="renderer process stopped"):
        await renderer.render(_die)
    assert not renderer.started
    new_pid = int((await renderer.render(_pid)).decode().split(":")[0])
    assert new_pid != old_pid
    assert not _alive(old_pid)


async def test_aclose_stops_the_processes_and_a_later_chart_restarts_them() -> None:
    renderer = ChartRenderer(processes=1)
    assert not renderer.started  # nothing is spawned before the first chart
    await renderer.aclose()  # closing an unstarted renderer is a no-op
    pid = int((await renderer.render(_pid)).decode().split(":")[0])
    assert _alive(pid)
    await renderer.aclose()
    assert not renderer.started
    assert not _alive(pid)
    again = int((await renderer.render(_pid)).decode().split(":")[0])
    assert again != pid
    await renderer.aclose()


async def test_zero_processes_draws_in_a_worker_thread_of_this_process() -> None:
    renderer = ChartRenderer(processes=0)
    pid, thread = (await renderer.render(_pid)).decode().split(":")
    assert int(pid) == os.getpid()
    assert int(thread) != threading.get_ident()  # never on the event loop's thread
    assert not renderer.started


def test_renderer_lookup_and_validation() -> None:
    mine = ChartRenderer(processes=2)
    assert renderer_from_context(ToolContext(services={RENDERER_SERVICE: mine})) is mine
    fallback = renderer_from_context(ToolContext(services={RENDERER_SERVICE: "not a renderer"}))
    assert fallback.processes == 0
    with pytest.raises(ValueError, match=">= 0"):
        ChartRenderer(processes=-1)


class _ThreadBackedRenderer(ChartRenderer):
    """The renderer with a wide thread pool standing in for its processes, so a test can
    count how many charts the renderer hands over at once."""

    def __init__(self, processes: int) -> None:
        super().__init__(processes)
        self.threads = ThreadPoolExecutor(max_workers=16)

    def _ensure_pool(self) -> Executor:
        return self.threads


async def test_at_most_two_charts_per_process_are_handed_to_the_pool_at_once() -> None:
    renderer = _ThreadBackedRenderer(processes=1)
    release = threading.Event()
    lock = threading.Lock()
    handed = 0
    peak = 0

    def chart(n: int) -> bytes:
        nonlocal handed, peak
        with lock:
            handed += 1
            peak = max(peak, handed)
        release.wait(10)
        with lock:
            handed -= 1
        return str(n).encode()

    charts = [asyncio.create_task(renderer.render(chart, n=n)) for n in range(6)]
    for _ in range(200):
        if handed == 2:
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # room for a third hand-over if the bound were missing
    assert handed == 2
    release.set()
    assert await asyncio.gather(*charts) == [str(n).encode() for n in range(6)]
    assert peak == 2
    renderer.threads.shutdown()
