"""Where charts are drawn: by default in a separate process, never on the caller's event loop.

Drawing a chart with matplotlib costs ~40 ms of pure-Python CPU. In a worker thread it still
holds the GIL, so the thread serving the event loop waits behind it and every other client of
that process (SSE deliveries, new runs) sees the delay. :class:`ChartRenderer` runs the chart
functions of :mod:`tools.render.charts` in a small ``spawn`` process pool instead, started on
first use (a process that never draws a chart pays nothing) and bounded (``processes``
workers). At most twice ``processes`` charts are handed to the pool at a time; further charts
wait on per-loop slots, oldest run first (:data:`tools.cpu.CPU_PRIORITY`), so 200 runs asking
for a chart at once queue as cheap coroutines instead of 200 submissions (each a pickling and
a pipe write on the event loop's thread, in one burst). ``processes=0`` draws on the tools'
bounded CPU executor (tests, single-user tools, platforms without subprocesses).

Hosts build one renderer per process and pass it to tools as
``ToolContext.services[RENDERER_SERVICE]``; ``render_chart`` falls back to drawing in a thread
when there is none. The host closes it with :meth:`ChartRenderer.aclose`.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tools.catalog_types import ToolContext, ToolError
from tools.cpu import LoopSlots, current_priority, run_cpu_bound

__all__ = ["RENDERER_SERVICE", "ChartRenderer", "renderer_from_context"]

RENDERER_SERVICE = "chart_renderer"  # the ToolContext.services key of the host's renderer

ChartFunction = Callable[..., bytes]
_NICE_INCREMENT = 10


class ChartRenderer:
    """Runs chart functions (module-level, picklable arguments) off the event loop."""

    def __init__(self, processes: int = 1) -> None:
        if processes < 0:
            raise ValueError("processes must be >= 0 (0 draws charts in a thread)")
        self.processes = processes
        # Charts handed to the pool at once: one drawing and one queued per process.
        self._slots = LoopSlots(max(1, 2 * processes))
        self._pool: Executor | None = None
        self._lock = threading.Lock()  # one pool even if two loops start it at once

    @property
    def started(self) -> bool:
        """Whether worker processes exist (they start with the first chart)."""
        return self._pool is not None

    def _ensure_pool(self) -> Executor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_background_priority,
                )
            return self._pool

    def _discard(self, pool: Executor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    async def render(self, fn: ChartFunction, /, **kwargs: Any) -> bytes:
        """``fn(**kwargs)`` in a renderer process (or a thread when ``processes`` is 0).

        A renderer process that dies (killed, out of memory) fails this chart with a
        :class:`ToolError` the model can report; the next chart starts a fresh pool.
        """
        if self.processes == 0:
            return await run_cpu_bound(fn, **kwargs)
        loop = asyncio.get_running_loop()
        async with self._slots.of(loop).slot(current_priority()):
            pool = self._ensure_pool()
            try:
                return await loop.run_in_executor(pool, functools.partial(fn, **kwargs))
            except BrokenProcessPool:
                self._discard(pool)
                raise ToolError(
                    "the chart renderer process stopped unexpectedly; try again"
                ) from None

    async def aclose(self) -> None:
        """Stop the worker processes (queued charts are cancelled). A later chart restarts
        the pool, so closing is safe at any time."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _background_priority() -> None:
    """In each renderer process: a lower CPU priority, so on a busy machine the process that
    serves the event loop gets a core first and charts wait instead of client deliveries."""
    os.nice(_NICE_INCREMENT)


_IN_THREAD = ChartRenderer(processes=0)


def renderer_from_context(ctx: ToolContext) -> ChartRenderer:
    """The host's renderer, or drawing in a thread of this process when there is none."""
    candidate = ctx.services.get(RENDERER_SERVICE)
    return candidate if isinstance(candidate, ChartRenderer) else _IN_THREAD
