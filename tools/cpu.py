"""A bounded executor for CPU-bound work (the offline engine's turns, grid analysis, sync tools).

Work moved off the event loop into threads still needs the GIL, which CPython shares out
round-robin among the threads that want it: with six busy ``asyncio.to_thread`` workers the
loop thread gets about a seventh of the interpreter, and every client of the process waits.
Pure-Python work gains nothing from more threads, so by default it all queues on a single
thread here and the loop thread keeps at least half. (Charts, the heaviest work, run in a
separate process: :mod:`tools.render.executor`.)

The executor is bounded twice: ``workers`` threads run jobs, and at most ``max_pending`` jobs
are handed to them at a time. Further callers wait as ordinary coroutines on slots of their
own event loop: 200 runs queue there instead of piling closures into the thread pool, a
cancelled run leaves the queue at once (its job never starts), and the loop thread stays free
to serve everyone else (new runs' first events, SSE deliveries) while the work waits.

Waiters are served oldest run first (:data:`CPU_PRIORITY`, set by the orchestrator per run;
unset, first come first served). Taking turns job by job would move 200 runs through their
steps in lockstep, so all of them would reach their last step late together (and hit the step
timeout); oldest first lets each run finish as soon as the CPU allows, in arrival order, as a
queue should.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import heapq
import itertools
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = [
    "CPU_PRIORITY",
    "DEFAULT_MAX_PENDING",
    "CpuExecutor",
    "LoopSlots",
    "PrioritySlots",
    "cpu_executor",
    "current_priority",
    "run_cpu_bound",
]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_PENDING = 8  # jobs handed to the threads at once; more wait in asyncio


CPU_PRIORITY: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "cpu_priority", default=None
)
"""When the work's run began (``time.monotonic()``): lower goes first. Unset, a job ranks by
when it asks. The orchestrator sets it for each run, so older runs finish first."""


def current_priority() -> float:
    """The caller's :data:`CPU_PRIORITY`, else now (first come, first served)."""
    priority = CPU_PRIORITY.get()
    return time.monotonic() if priority is None else priority


class PrioritySlots:
    """``limit`` slots of one event loop, handed to waiters lowest priority value first (ties
    in arrival order). A waiter cancelled after being handed a slot passes it on."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    async def acquire(self, priority: float) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot at the moment it was cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            *_, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1

    @contextlib.asynccontextmanager
    async def slot(self, priority: float) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()


class LoopSlots:
    """``limit`` :class:`PrioritySlots` per event loop.

    Asyncio futures belong to one loop, while executors are shared by the whole process
    (tests and embedders run several loops, one after another or in threads).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PrioritySlots] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, loop: asyncio.AbstractEventLoop) -> PrioritySlots:
        slots = self._by_loop.get(loop)
        if slots is None:
            slots = self._by_loop[loop] = PrioritySlots(self.limit)
        return slots


class CpuExecutor:
    """``workers`` threads (started on first use) and a per-loop bound on jobs in flight."""

    def __init__(
        self, workers: int = 1, max_pending: int = DEFAULT_MAX_PENDING, name: str = "tools-cpu"
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if max_pending < workers:
            raise ValueError("max_pending must be >= workers (each thread needs a job)")
        self.workers = workers
        self.max_pending = max_pending
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._slots = LoopSlots(max_pending)
        self._in_flight = 0  # jobs handed to the threads (all loops), for metrics and tests
        self._waiting = 0  # callers waiting for a slot (all loops)

    @property
    def in_flight(self) -> int:
        """Jobs handed to the threads and not finished (queued in the pool or running)."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot (their job not handed to the threads yet)."""
        return self._waiting

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix=self._name
                )
            return self._pool

    async def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` on a worker thread, with the caller's context variables.

        Waits (cancellable, oldest run first) while ``max_pending`` jobs are in flight.
        A caller cancelled before its job starts drops the job; one cancelled while its job
        runs gets ``CancelledError`` at once, and the job finishes on its thread (threads
        cannot be interrupted) and keeps its slot until then, so the bound holds.
        """
        loop = asyncio.get_running_loop()
        slots = self._slots.of(loop)
        self._waiting += 1
        try:
            await slots.acquire(current_priority())
        finally:
            self._waiting -= 1
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        try:
            job = self._executor().submit(call)
        except BaseException:
            slots.release()
            raise
        self._in_flight += 1

        def finished() -> None:
            self._in_flight -= 1
            slots.release()

        def on_done(_: object) -> None:  # on the worker thread, or here if cancelled unstarted
            # A closed loop raises RuntimeError: nobody waits on its slots any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(finished)

        job.add_done_callback(on_done)
        # Cancelling the caller cancels a job that has not started; a running one keeps its
        # slot until it returns.
        return await asyncio.wrap_future(job, loop=loop)

    def shutdown(self) -> None:
        """Stop the threads after their current jobs (a later job starts new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


_shared = CpuExecutor()


def cpu_executor() -> CpuExecutor:
    """The process's shared executor (one thread, :data:`DEFAULT_MAX_PENDING` jobs)."""
    return _shared


async def run_cpu_bound(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` on the shared CPU executor (context variables carried over)."""
    return await _shared.run(fn, *args, **kwargs)
