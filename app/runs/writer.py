"""Group commit of run events: the pending events of many runs go in one transaction.

Every event is committed before it is published, and on SQLite a process has one writer at a
time. Writing each event in its own transaction made 200 concurrent runs queue ~3,000 small
transactions behind one lock (measured: ~1.5 s p50 lock wait, so a new run's first event
came seconds late). Here a run hands its event to :class:`EventWriter` and awaits the
outcome; a single drain task takes every event waiting at that moment and commits them
together, so the next batch forms while one commits, and 200 commits become a few.

Guarantees are unchanged: a caller learns its event is stored only after the batch
committed; a run has at most one event in flight (the service awaits each), so its ``seq``
stays gap-free and in order; a boundary event's checkpoint and a terminal event's run close
are written by the same statements, in the same transaction, as before. When a batch fails,
its events are retried one transaction each, so one run's failure (a run claimed by another
worker, closed elsewhere) is reported to that run alone and never costs another its event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.images.models import RunChart
from app.runs import store
from app.runs.models import Run
from orchestrator import Completed, ErrorEvent, Event

__all__ = ["EventWrite", "EventWriter", "RunClosedElsewhere", "settled"]

T = TypeVar("T")
# A unit of a batch: statements in the batch's transaction; run again alone if it fails.
Job = Callable[[AsyncSession], Awaitable[Any]]

# Events per transaction at most: bounds one transaction's time (and its lock hold).
MAX_BATCH: Final = 256


class RunClosedElsewhere(Exception):
    """The run row is no longer ``running``: another process closed it (stale lease)."""


@dataclass(eq=False)
class EventWrite:
    """One event to store, with what goes in its transaction."""

    event: Event
    payload: str  # the event's JSON, encoded by the caller (not while the batch waits)
    owner: str  # the worker that must still hold the run (fencing)
    now: datetime
    checkpoint: str | None = None  # a boundary event's checkpoint (JSON)
    charts: list[RunChart] = field(default_factory=list)  # a completed run's chart images
    trace_parent: str | None = None  # the run's span (tracing on), kept on the run row


async def apply_event(write: EventWrite, session: AsyncSession) -> None:
    """The statements of one event, in the caller's transaction."""
    event, now = write.event, write.now
    await store.insert_event(
        session,
        event,
        now,
        owner=write.owner,
        payload=write.payload,
        trace_parent=write.trace_parent,
    )
    if isinstance(event, Completed | ErrorEvent):
        run = await session.get(Run, event.run_id, with_for_update=True)
        if run is None or run.status != "running":
            raise RunClosedElsewhere
        await store.finish_run(session, run, event, now)
        session.add_all(write.charts)
    elif write.checkpoint is not None:
        await store.save_checkpoint(session, event.run_id, event.seq, write.checkpoint, now)


class EventWriter:
    """Commits the writes handed to :meth:`submit` in batches, one transaction per batch.

    A write is a job: a coroutine function of the session that must be safe to run again in
    a fresh transaction (a failed batch runs each job alone). Besides events, the service
    submits the creation of a run, so a burst of new runs is a few transactions too.

    ``writing`` opens a write transaction (the service's, so SQLite's one-writer rule and
    its lock are shared with every other writer of the process). The drain task exists only
    while events wait: nothing to start or stop.
    """

    def __init__(self, writing: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        self._writing = writing
        self._waiting: list[tuple[Job, asyncio.Future[Any]]] = []
        self._drain_task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (for tests and benchmarks)

    def submit_event(self, write: EventWrite) -> asyncio.Future[None]:
        """Queue an event; the future resolves once it is committed (or with its error)."""
        return self.submit(partial(apply_event, write))

    def submit(self, job: Callable[[AsyncSession], Awaitable[T]]) -> asyncio.Future[T]:
        """Queue ``job``; the future resolves to its result once committed (or its error)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain(), name="runs-event-writer")
        return future

    async def _drain(self) -> None:
        batch: list[tuple[Job, asyncio.Future[Any]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._commit(batch)
                batch = []
        finally:
            self._drain_task = None
            # Only when the drain task itself is cancelled (the loop closing): nobody waits.
            for _, future in batch + self._waiting:
                if not future.done():
                    future.cancel()
            self._waiting.clear()

    async def _commit(self, batch: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        try:
            async with self._writing() as session:
                results = [await job(session) for job, _ in batch]
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            for one in batch:  # find the write that failed; the others still commit
                await self._commit([one])
            return
        self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


async def settled(future: asyncio.Future[T]) -> tuple[T, bool]:
    """The result of a submitted write, and whether the caller was cancelled meanwhile.

    A write in a batch cannot be taken back, so a cancelled caller still waits for its
    outcome (to keep its own state true, e.g. a run's ``last_seq``) and should stop after.
    Raises the write's error, or ``CancelledError`` if the writer itself was cancelled.
    """
    cancelled = False
    while True:
        try:
            return await asyncio.shield(future), cancelled
        except asyncio.CancelledError:
            if future.cancelled():
                raise
            cancelled = True
