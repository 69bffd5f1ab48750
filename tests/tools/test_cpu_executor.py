"""The bounded CPU executor: at most ``max_pending`` jobs reach its threads, the rest wait as
coroutines (first come, first served); cancellation drops a waiting job and keeps a running
job's slot until it returns; every event loop gets its own bound."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable

import pytest

from tools.cpu import CPU_PRIORITY, CpuExecutor, LoopSlots, cpu_executor, run_cpu_bound


class Gate:
    """Jobs that block until released, recording how many run at once and in what order."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.started: list[int] = []
        self.running = 0
        self.peak = 0

    def job(self, n: int) -> int:
        with self.lock:
            self.started.append(n)
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.release.wait(10)
        with self.lock:
            self.running -= 1
        return n * n


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def test_at_most_max_pending_jobs_reach_the_threads_and_the_rest_wait_in_order() -> None:
    executor = CpuExecutor(workers=2, max_pending=3)
    gate = Gate()
    tasks = [asyncio.create_task(executor.run(gate.job, n)) for n in range(8)]
    await _until(lambda: executor.in_flight == 3 and executor.waiting == 5)
    assert gate.peak == 2  # two threads run, one job queued in the pool, five wait in asyncio
    gate.release.set()
    assert await asyncio.gather(*tasks) == [n * n for n in range(8)]
    assert gate.started[:2] == sorted(gate.started[:2])  # the first two went first (any order)
    assert gate.started[2:] == list(range(2, 8))  # then first come, first served
    assert (executor.in_flight, executor.waiting) == (0, 0)
    executor.shutdown()


async def test_a_caller_cancelled_while_waiting_never_runs_its_job() -> None:
    executor = CpuExecutor(workers=1, max_pending=1)
    gate = Gate()
    first = asyncio.create_task(executor.run(gate.job, 1))
    waiting = asyncio.create_task(executor.run(gate.job, 2))
    await _until(lambda: executor.waiting == 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.release.set()
    assert await first == 1
    assert gate.started == [1]
    executor.shutdown()


async def test_a_running_job_keeps_its_slot_after_its_caller_is_cancelled() -> None:
    executor = CpuExecutor(workers=1, max_pending=1)
    gate = Gate()
    running = asyncio.create_task(executor.run(gate.job, 1))
    await _until(lambda: gate.running == 1)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    nxt = asyncio.create_task(executor.run(gate.job, 2))
    await asyncio.sleep(0.05)
    assert (executor.in_flight, executor.waiting) == (1, 1)  # the bound holds
    gate.release.set()
    assert await nxt == 4
    assert gate.peak == 1
    executor.shutdown()


def test_each_event_loop_gets_its_own_bound() -> None:
    executor = CpuExecutor(workers=1, max_pending=1)

    async def twice() -> list[int]:
        return list(await asyncio.gather(executor.run(abs, -3), executor.run(abs, -4)))

    assert asyncio.run(twice()) == [3, 4]
    assert asyncio.run(twice()) == [3, 4]  # a second loop: no semaphore of a closed loop
    executor.shutdown()


REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")


async def test_the_shared_executor_carries_context_variables_and_runs_off_the_loop() -> None:
    REQUEST.set("req-42")
    loop_thread = threading.get_ident()
    thread, seen = await run_cpu_bound(lambda: (threading.get_ident(), REQUEST.get()))
    assert thread != loop_thread
    assert seen == "req-42"
    assert cpu_executor().workers == 1


def test_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="workers"):
        CpuExecutor(workers=0)
    with pytest.raises(ValueError, match="max_pending"):
        CpuExecutor(workers=2, max_pending=1)
    with pytest.raises(ValueError, match="limit"):
        LoopSlots(0)


async def test_waiters_are_served_oldest_run_first() -> None:
    """Runs are queued by when they began (CPU_PRIORITY), not by when each job asked: an
    older run's next job overtakes newer runs' jobs that asked earlier."""
    executor = CpuExecutor(workers=1, max_pending=1)
    gate = Gate()

    async def job_of_run(n: int, began: float) -> int:
        CPU_PRIORITY.set(began)
        return await executor.run(gate.job, n)

    blocker = asyncio.create_task(executor.run(gate.job, 0))
    await _until(lambda: gate.running == 1)
    newer = [asyncio.create_task(job_of_run(n, began=100.0 + n)) for n in (1, 2, 3)]
    await _until(lambda: executor.waiting == 3)
    older = asyncio.create_task(job_of_run(9, began=1.0))
    await _until(lambda: executor.waiting == 4)
    gate.release.set()
    await asyncio.gather(blocker, older, *newer)
    assert gate.started == [0, 9, 1, 2, 3]
    executor.shutdown()
