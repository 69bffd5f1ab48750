"""The run service: starts orchestrator runs as tasks, persists and publishes their events.

A run is independent of any HTTP connection. :meth:`RunService.start` writes the user
message, the run row and its ``started`` event in one transaction, publishes that event, then
runs the orchestrator in its own task; every event is stored in ``run_events`` (commit first,
group-committed with other runs' writes: :mod:`app.runs.writer`) and then published, as its
finished SSE frame, on the run's channel, so subscribers that replay from the database and
tail the channel see every event exactly once. The terminal event, the run row's final state
and the assistant message are written in one transaction (with the run's chart images, whose
links the ``completed`` event's report gains just before: :mod:`app.images.charts`).

Liveness across processes: each process has a ``worker_id``; its heartbeat refreshes
``lease_expires_at`` of the runs it executes. Runs whose lease expired belong to a dead
process, and so do, at once, runs of a process of this host that no longer exists
(``workers``).

Durable runs: the orchestrator hands this service a checkpoint at each step boundary, and
:meth:`RunService._record` commits it in the transaction of the boundary event it belongs to.
A live worker *claims* a dead process's run (one conditional UPDATE: exactly one claimant)
and resumes it from that checkpoint, up to ``runs.max_resumes`` times per run; beyond that,
or with ``max_resumes = 0``, the run is closed as before (``error`` code ``interrupted``). A
checkpoint that cannot be read ends its run at once (``checkpoint_invalid``). A shutdown
hands its runs over: each stops at its next step boundary (or after ``runs.handover_s``),
and the lease is released so another worker claims it at once.

Tracing: the run's task is created inside the request's context (asyncio copies it), so the
orchestrator's run span is a child of the request that started it; the run span's
``traceparent`` is stored with the ``started`` event (:mod:`app.telemetry`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from litestar.channels import ChannelsPlugin
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.errors import UnknownUser
from app.auth.models import User
from app.conversations import service as conversations
from app.conversations.ids import conversation_not_found
from app.datasets import service as datasets
from app.db.integrity import Violation, ViolationKind, classify_integrity_error
from app.errors import AppError, ShuttingDown
from app.health import HealthRegistry
from app.health_compat import api_status_of_failure
from app.images.charts import attach_chart_images
from app.images.models import RunChart
from app.logging import get_logger
from app.metrics.runs import RunMetrics
from app.runs import store
from app.runs.durable import Claimed, ClosedAtClaim, DatabaseCheckpointer, HandedOver, claim
from app.runs.errors import QUESTION_ERRORS, ConversationBusy, TooManyRuns
from app.runs.frames import payload_frame
from app.runs.models import Run
from app.runs.workers import is_dead_here, local_prefix, new_worker_id
from app.runs.writer import EventWrite, EventWriter, RunClosedElsewhere, settled
from app.settings import RunSettings
from orchestrator import (
    Checkpointer,
    Completed,
    ErrorCode,
    ErrorData,
    ErrorEvent,
    Event,
    HistoryPair,
    Orchestrator,
    Resumed,
    RunContext,
    Started,
    StartedData,
    current_traceparent,
    encode_event,
    question_problem,
    utc_timestamp,
)

__all__ = ["RunService", "StartedRun", "channel_for"]

log = get_logger("app.runs")
# A run takes seconds: a client refused for too many runs retries after this many.
_RETRY_RUN_LATER: Final = {"Retry-After": "5"}


def channel_for(run_id: str) -> str:
    """The channel a run's events are published on."""
    return f"run:{run_id}"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class StartedRun:
    run_id: str
    conversation_id: int


@dataclass(eq=False)
class _LiveRun:
    """A run executing in this process."""

    run_id: str
    user_id: str
    conversation_id: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    closed: bool = False
    cancel_requested: bool = False
    last_seq: int = 0
    progress: int = 0
    # Stopping: the run ends its attempt at its next step boundary, for another worker.
    handing_over: bool = False
    handed_over: bool = False
    # The run's span (tracing on), stored on the run row with the next event it writes.
    trace_parent: str | None = None


class RunService:
    """Owns this process's runs: start, cancel, wait, heartbeat, recovery and shutdown."""

    def __init__(
        self,
        *,
        settings: RunSettings,
        session_maker: async_sessionmaker[AsyncSession],
        channels: ChannelsPlugin,
        orchestrator: Orchestrator,
        max_history_pairs: int,
        worker_id: str | None = None,
        serialize_writes: bool = False,
        health: HealthRegistry | None = None,
        metrics: RunMetrics | None = None,
    ) -> None:
        self.settings = settings
        self._health = health
        # Told of accepted, refused and ended runs and of every recorded event (None: off).
        self._metrics = metrics
        self._write_lock = asyncio.Lock() if serialize_writes else None
        self.session_maker = session_maker
        self.channels = channels
        self.orchestrator = orchestrator
        self.max_history_pairs = max_history_pairs
        self.worker_id = worker_id or new_worker_id()
        self._live: dict[str, _LiveRun] = {}
        self._reserved = 0
        self._reserved_by_user: Counter[str] = Counter()
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False
        self._checkpoints = DatabaseCheckpointer(session_maker)
        # Runs' events are committed in batches (group commit), each before it is published.
        self._writer = EventWriter(self._writing)
        # Where runs' checkpoints go (None: none are kept, as before durable runs).
        self.checkpointer: Checkpointer | None = self._checkpoints

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. On SQLite, this process's writers queue here instead of
        in SQLite's busy handler: a writer whose commit is delayed by a busy event loop would
        otherwise make the others fail with "database is locked" after the busy timeout."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self.session_maker())
            await stack.enter_async_context(session.begin())
            yield session

    # -- lifecycle ---------------------------------------------------------------------------

    async def startup(self) -> None:
        """Resume (or close) runs left running by dead processes, then start the heartbeat."""
        await self.sweep_stale()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="runs-heartbeat")

    async def shutdown(self) -> None:
        """Hand this process's runs over to other workers (or, with ``max_resumes = 0``,
        close them as ``interrupted``) and stop their tasks."""
        self._stopping = True  # no new runs, no claims; the heartbeat renews leases still
        live = list(self._live.values())
        if self.settings.max_resumes > 0:
            try:
                await self._hand_over(live)
            finally:
                await self._stop_heartbeat()
            return
        await self._stop_heartbeat()
        for run in live:
            await self._interrupt(run.run_id, owner=self.worker_id, reason="the server shut down")
        for run in live:
            self.cancel_local(run.run_id)
        tasks = [run.task for run in live if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    async def _hand_over(self, live: list[_LiveRun]) -> None:
        """Let each run reach its next step boundary (its checkpoint committed), at most
        ``handover_s``; stop the rest where they are (their last checkpoint stands); then
        release the leases so a live worker claims the runs at once. The heartbeat keeps
        the leases until then: no other worker may claim a run that is still going here."""
        for run in live:
            run.handing_over = True
        tasks = [run.task for run in live if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.handover_s)
        for run in live:
            if not run.closed and run.task is not None and not run.task.done():
                async with run.lock:  # not while an event is being written
                    run.handed_over = True
                    run.task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        await self._stop_heartbeat()
        handed = [run.run_id for run in live if run.handed_over]
        if handed:
            async with self._writing() as session:
                count = await store.release_for_handover(
                    session, handed, worker_id=self.worker_id, now=_now()
                )
            log.info("runs.handed_over", count=count)

    @property
    def active(self) -> int:
        """Runs executing in this process."""
        return len(self._live)

    # -- start -------------------------------------------------------------------------------

    async def start(
        self,
        *,
        user_id: str,
        question: str,
        conversation_id: int | None = None,
        dataset_id: str | None = None,
    ) -> StartedRun:
        """Validate, persist the user message and run row, and start the run's task.

        Raises :class:`~app.errors.AppError`: 400 bad question, 404 unknown conversation/dataset,
        409 the conversation already has a run going, 429 a concurrency limit is reached.
        """
        self._check_question(question)
        if self._stopping:
            self._refused("shutting_down")
            raise ShuttingDown()
        limit = self.settings.max_concurrent_per_process
        if self._reserved >= limit:
            self._refused("process_limit")
            raise TooManyRuns(
                f"The server is running its maximum of {limit} concurrent runs; retry shortly.",
                headers=dict(_RETRY_RUN_LATER),
            )
        self._reserved += 1
        self._reserved_by_user[user_id] += 1
        try:
            started, context, event, payload, cancelled = await self._create(
                user_id, question, conversation_id, dataset_id
            )
        except BaseException as exc:
            self._release(user_id)
            if isinstance(exc, TooManyRuns | ConversationBusy):
                self._refused("user_limit" if isinstance(exc, TooManyRuns) else "conversation_busy")
            raise
        live = _LiveRun(started.run_id, user_id, started.conversation_id)
        live.last_seq = event.seq
        self._live[started.run_id] = live
        if self._metrics is not None:
            self._metrics.accepted(started.run_id)
        live.task = asyncio.create_task(self._execute(live, question, context))
        self._publish(event, payload)
        log.info("run.started", run_id=started.run_id, conversation_id=started.conversation_id)
        if cancelled:
            raise asyncio.CancelledError
        return started

    def _refused(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.refused(reason)

    def _check_question(self, question: str) -> None:
        problem = question_problem(question, self.settings.max_question_chars)
        if problem is not None:
            raise QUESTION_ERRORS[problem.code](problem.message)

    def _release(self, user_id: str) -> None:
        self._reserved -= 1
        self._reserved_by_user[user_id] -= 1
        if self._reserved_by_user[user_id] <= 0:
            del self._reserved_by_user[user_id]

    async def _create(
        self, user_id: str, question: str, conversation_id: int | None, dataset_id: str | None
    ) -> tuple[StartedRun, RunContext, Started, str, bool]:
        """Write the run row, the user message and the run's ``started`` event in one
        transaction (with other runs' writes: :mod:`app.runs.writer`), so the first event
        can be published as soon as the run exists. Returns the event, its stored JSON and
        whether the caller was cancelled meanwhile (the run exists then: start it anyway)."""
        now = _now()

        async def create(session: AsyncSession) -> tuple[StartedRun, RunContext, Started, str]:
            per_user = self.settings.max_concurrent_per_user
            others = await store.count_running(session, user_id, self.worker_id)
            if others + self._reserved_by_user[user_id] > per_user:
                raise TooManyRuns(
                    f"You already have {per_user} runs in progress; "
                    "wait for one to finish or cancel it.",
                    headers=dict(_RETRY_RUN_LATER),
                )
            if conversation_id is None:
                conversation = await conversations.new_conversation(session, user_id, question, now)
                history: list[HistoryPair] = []
            else:
                conversation = await conversations.owned_conversation(
                    session, conversation_id, user_id
                )
                history = await conversations.history_pairs(
                    session, conversation.id, self.max_history_pairs
                )
            dataset = (
                None
                if dataset_id is None
                else await datasets.dataset_for_run(session, user_id, dataset_id)
            )
            run = Run(
                user_id=user_id,
                conversation_id=conversation.id,
                dataset_id=dataset_id,
                question=question,
                status="running",
                progress=0,
                last_seq=0,
                worker_id=self.worker_id,
                lease_expires_at=now + timedelta(seconds=self.settings.lease_s),
                cancel_requested=False,
                created_at=now,
            )
            session.add(run)
            await session.flush()
            await conversations.append_message(
                session, conversation.id, "user", question, run.id, now
            )
            context = RunContext(
                run_id=run.id,
                conversation_id=conversation.id,
                user_id=user_id,
                history=history,
                dataset=dataset,
                metadata={"conversation_id": conversation.id},
            )
            started = _started_event(question, context, now)
            payload = await store.insert_event(session, started, now, owner=self.worker_id)
            return StartedRun(run.id, conversation.id), context, started, payload

        try:
            created, cancelled = await settled(self._writer.submit(create))
        except IntegrityError as exc:
            raise await self._create_conflict(exc, user_id, conversation_id, dataset_id) from exc
        return (*created, cancelled)

    async def _create_conflict(
        self,
        exc: IntegrityError,
        user_id: str,
        conversation_id: int | None,
        dataset_id: str | None,
    ) -> AppError:
        """The client-facing cause of an integrity error while creating a run.

        A second run (or message) in a conversation that has one going is ``conversation_busy``;
        a row that vanished meanwhile (the account deleted, the conversation or dataset
        deleted by another request) is said as such. Anything else is a bug: re-raised.
        """
        violation = classify_integrity_error(exc)
        if violation.kind is ViolationKind.UNIQUE and _is_one_run_per_conversation(violation):
            return ConversationBusy()
        if violation.kind is ViolationKind.FOREIGN_KEY:
            async with self.session_maker() as session:
                if await session.get(User, user_id) is None:
                    return UnknownUser("Account no longer exists.")
                if conversation_id is not None and not await conversations.conversation_exists(
                    session, conversation_id
                ):
                    return conversation_not_found()
                if dataset_id is not None and not await datasets.dataset_exists(
                    session, dataset_id
                ):
                    return datasets.dataset_not_found()
        raise exc

    # -- execution ---------------------------------------------------------------------------

    async def _execute(
        self,
        live: _LiveRun,
        question: str,
        context: RunContext,
        resumption: Claimed | None = None,
    ) -> None:
        async def emit(event: Event) -> None:
            await self._record(live, event)

        try:
            if live.cancel_requested:  # no await between this check and registration
                pass
            elif resumption is None:
                await self.orchestrator.run(question, context, emit, checkpointer=self.checkpointer)
            else:
                await self.orchestrator.resume(
                    resumption.checkpoint,
                    question,
                    context,
                    emit,
                    reason=resumption.reason,
                    last_seq=live.last_seq,
                    progress=live.progress,
                    checkpointer=self.checkpointer,
                )
        except HandedOver:
            log.info("run.handed_over", run_id=live.run_id, seq=live.last_seq)
        except asyncio.CancelledError:
            log.info("run.task_cancelled", run_id=live.run_id)
        except Exception:
            log.exception("run.crashed", run_id=live.run_id)
        finally:
            try:
                if not live.closed and not live.handed_over:
                    await self._record(live, self._fallback_terminal(live))
            except Exception:
                log.exception("run.close_failed", run_id=live.run_id)
            finally:
                self._live.pop(live.run_id, None)
                self._checkpoints.forget(live.run_id)
                self._release(live.user_id)
                if self._metrics is not None:
                    self._metrics.left(live.run_id)
                live.done.set()

    def _fallback_terminal(self, live: _LiveRun) -> ErrorEvent:
        """The terminal event when the orchestrator ended without one: cancelled before it
        started, or a bug / a failed write."""
        code: ErrorCode
        if live.cancel_requested:
            code, message = "cancelled", "Run cancelled (cancelled)"
            error = "the run was cancelled before it finished"
        else:
            code, message = "internal_error", "Run failed: internal error (internal_error)"
            error = "the run ended unexpectedly without a result"
        return ErrorEvent(
            run_id=live.run_id,
            seq=live.last_seq + 1,
            timestamp=utc_timestamp(),
            agent_name="system",
            message=message,
            data=ErrorData(progress=live.progress, code=code, error=error),
        )

    async def _record(self, live: _LiveRun, event: Event) -> None:
        """Persist (and for a terminal event, close the run), then publish.

        The write is committed with other runs' pending events (:mod:`app.runs.writer`).
        Once handed to the writer it cannot be taken back: a cancellation while it is in
        flight waits for its outcome (so ``last_seq`` stays true), then stops the run.
        """
        if isinstance(event, Started) and event.seq <= live.last_seq:
            # Stored and published with the run row (see ``_create``); the orchestrator
            # emits it inside the run's span, which the next write stores for replays.
            live.trace_parent = current_traceparent()
            return
        cancelled = False
        async with live.lock:
            if live.closed or live.handed_over:
                return  # closed by shutdown or a stale-lease sweep: later events are void
            checkpoint = self._checkpoints.take(event.run_id, event.seq)
            now = _now()
            charts: list[RunChart] = []
            if isinstance(event, Completed):
                # Each chart gets a public image id, linked from the report it is stored with.
                event, charts = attach_chart_images(event, now)
            payload = encode_event(event).decode()
            trace_parent = _run_span(event) or live.trace_parent
            pending = self._writer.submit_event(
                EventWrite(event, payload, self.worker_id, now, checkpoint, charts, trace_parent)
            )
            try:
                _, cancelled = await settled(pending)
            except (IntegrityError, RunClosedElsewhere, store.RunNotOwned):
                if await self._closed_elsewhere(live.run_id):
                    live.closed = True
                    self.orchestrator.cancel(live.run_id)
                    if cancelled:
                        raise asyncio.CancelledError from None
                    return
                raise
            live.last_seq = event.seq
            live.progress = event.data.progress
            live.trace_parent = None
            if isinstance(event, Completed | ErrorEvent):
                live.closed = True
                await self._note_provider_health(event)
            elif checkpoint is not None and live.handing_over:
                live.handed_over = True  # this checkpoint is where the next worker goes on
        self._publish(event, payload)
        if cancelled:
            raise asyncio.CancelledError
        if live.handed_over:
            raise HandedOver

    def _publish(self, event: Event, payload: str) -> None:
        """Publish a persisted event (``payload``: its stored JSON) on its run's channel, as
        its finished SSE frame (and count it in the metrics)."""
        if self._metrics is not None:
            self._metrics.event(event)
        self.channels.publish(
            payload_frame(event.seq, store.event_type_of(event), payload),
            channel_for(event.run_id),
        )

    async def _note_provider_health(self, event: Completed | ErrorEvent) -> None:
        """Only runs learn that the provider rejects the key or has no quota left (health
        checks never pay for an LLM call): either makes ``/health`` unhealthy until a run
        completes again. A completed run of a model server records that it answered
        (``openai_api_status: healthy``); the offline engine has no API to vouch for."""
        if self._health is None:
            return
        if isinstance(event, Completed):
            if self.orchestrator.provider.name == "offline":
                await self._health.clear("provider")
            else:
                await self._health.report(
                    "provider",
                    "healthy",
                    "the model server answered the last run",
                    api_status="healthy",
                    run_id=event.run_id,
                )
            return
        api_status = api_status_of_failure(event.data.code, event.data.error)
        if api_status is None:
            return
        message = (
            "the LLM provider reports the account's quota is used up (check billing)"
            if api_status == "quota_exceeded"
            else "the LLM provider rejected the API key (check OPENAI_API_KEY / llm.api_key)"
        )
        await self._health.report(
            "provider",
            "unhealthy",
            message,
            api_status=api_status,
            last_failure=event.data.error,
            run_id=event.run_id,
        )

    async def _closed_elsewhere(self, run_id: str) -> bool:
        """Whether another worker ended the run, or claimed it (this worker's lease had
        lapsed, e.g. its event loop or database stalled longer than ``runs.lease_s``)."""
        async with self.session_maker() as session:
            row = (
                await session.execute(select(Run.status, Run.worker_id).where(Run.id == run_id))
            ).first()
        if row is None or row.status != "running":
            return True
        if row.worker_id != self.worker_id:
            log.warning("run.claimed_elsewhere", run_id=run_id, worker_id=row.worker_id)
            return True
        return False

    # -- waiting and cancelling ----------------------------------------------------------------

    async def wait(self, run_id: str) -> None:
        """Wait until a run of this process has ended (returns at once for others)."""
        live = self._live.get(run_id)
        if live is not None:
            await live.done.wait()

    def is_local(self, run_id: str) -> bool:
        return run_id in self._live

    def cancel_local(self, run_id: str) -> None:
        """Cancel a run of this process now, even one whose task has not started yet."""
        live = self._live.get(run_id)
        if live is None:
            return
        live.cancel_requested = True
        # False when the task has not entered the orchestrator yet: it checks the flag first.
        self.orchestrator.cancel(run_id)

    async def cancel(self, run_id: str) -> bool:
        """Request cancellation; True if the run was still running.

        Local runs are cancelled at once (the orchestrator emits ``error`` code ``cancelled``);
        a run executing in another process is flagged and that process's heartbeat cancels it.
        """
        live = self._live.get(run_id)
        if live is not None:
            self.cancel_local(run_id)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10.0):
                    await live.done.wait()
            return True
        async with self._writing() as session:
            result = await session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == "running")
                .values(cancel_requested=True)
            )
        return bool(getattr(result, "rowcount", 0) == 1)

    # -- heartbeat, leases and recovery -------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await self.heartbeat()
                if not self._stopping:
                    await self.sweep_stale()
            except Exception:
                log.exception("runs.heartbeat_failed")

    async def heartbeat(self) -> None:
        """Extend the lease of this process's runs; act on cancel requests and foreign closes."""
        if not self._live:
            return
        now = _now()
        ids = list(self._live)
        async with self._writing() as session:
            await session.execute(
                update(Run)
                .where(Run.worker_id == self.worker_id, Run.status == "running")
                .values(lease_expires_at=now + timedelta(seconds=self.settings.lease_s))
            )
            rows = (
                await session.execute(
                    select(Run.id, Run.status, Run.cancel_requested).where(Run.id.in_(ids))
                )
            ).all()
        for run_id, status, cancel_requested in rows:
            live = self._live.get(run_id)
            if live is None:
                continue
            if status != "running":
                live.closed = True
                self.cancel_local(run_id)
            elif cancel_requested:
                self.cancel_local(run_id)

    async def sweep_stale(self) -> int:
        """Resume (or close) runs whose process died: their lease expired, or their worker
        was a process of this host that no longer exists (see ``workers``), or they were
        handed over. Returns how many were resumed or closed."""
        prefix = local_prefix()
        async with self.session_maker() as session:
            stale = (
                await session.scalars(
                    select(Run.id)
                    .where(Run.status == "running", Run.lease_expires_at < _now())
                    .limit(100)
                )
            ).all()
            local: list[tuple[str, str | None]] = []
            if prefix is not None:
                rows = (
                    await session.execute(
                        select(Run.id, Run.worker_id)
                        .where(
                            Run.status == "running",
                            Run.worker_id.startswith(prefix, autoescape=True),
                            Run.worker_id != self.worker_id,
                        )
                        .limit(100)
                    )
                ).all()
                local = [(run_id, worker) for run_id, worker in rows]
        claims: list[tuple[str, str | None]] = [(run_id, None) for run_id in stale]
        claims += [
            (run_id, worker)
            for run_id, worker in local
            if worker is not None and run_id not in stale and is_dead_here(worker, self.worker_id)
        ]
        closed = resumed = 0
        for run_id, owner in claims:
            # owner None: claimed by its expired lease; else by its (dead) worker's id.
            if self._stopping:
                break
            if await self._resume(run_id, owner=owner):
                resumed += 1
            elif await self._interrupt(
                run_id, owner=owner, reason="the process running it stopped"
            ):
                closed += 1
        if closed:
            log.warning("runs.stale_closed", count=closed)
        if resumed:
            log.warning("runs.stale_resumed", count=resumed)
        return closed + resumed

    async def _resume(self, run_id: str, *, owner: str | None) -> bool:
        """Claim a dead (or handed-over) run and continue it here from its checkpoint.

        False when this worker may not (``max_resumes`` reached, no capacity) or another
        claimed it first; the caller then tries to close it as ``interrupted``. A checkpoint
        that cannot be read closes the run at once with ``checkpoint_invalid`` (True).
        """
        if self.settings.max_resumes <= 0 or run_id in self._live:
            return False
        if self._reserved >= self.settings.max_concurrent_per_process:
            return False
        async with self._writing() as session:
            claimed = await claim(
                session,
                run_id,
                owner=owner,
                worker_id=self.worker_id,
                settings=self.settings,
                max_history_pairs=self.max_history_pairs,
                now=_now(),
            )
        if claimed is None:
            return False
        if isinstance(claimed, ClosedAtClaim):
            self._publish(claimed.event, claimed.payload)
            log.error("run.checkpoint_invalid", run_id=run_id, error=claimed.event.data.error)
            return True
        self._reserved += 1
        self._reserved_by_user[claimed.user_id] += 1
        live = _LiveRun(run_id, claimed.user_id, claimed.conversation_id)
        live.last_seq, live.progress = claimed.last_seq, claimed.progress
        self._live[run_id] = live
        live.task = asyncio.create_task(
            self._execute(live, claimed.question, claimed.context, claimed)
        )
        log.warning(
            "run.resumed",
            run_id=run_id,
            reason=claimed.reason,
            resumes=claimed.checkpoint.attempt + 1,
            from_seq=claimed.checkpoint.seq,
            last_seq=claimed.last_seq,
        )
        return True

    async def _interrupt(self, run_id: str, *, owner: str | None, reason: str) -> bool:
        """Write the ``interrupted`` terminal event for a run this caller wins the claim on."""
        live = self._live.get(run_id)
        lock = live.lock if live is not None else asyncio.Lock()
        async with lock:
            if live is not None and live.closed:
                return False
            now = _now()
            async with self._writing() as session:
                if not await store.claim_for_interrupt(session, run_id, now=now, owner=owner):
                    return False
                run = await session.get(Run, run_id)
                if run is None:
                    return False
                event = ErrorEvent(
                    run_id=run_id,
                    seq=await store.max_seq(session, run_id) + 1,
                    timestamp=utc_timestamp(now),
                    agent_name="system",
                    message=f"Run interrupted: {reason} (interrupted)",
                    data=ErrorData(
                        progress=run.progress,
                        code="interrupted",
                        error=f"The run was interrupted: {reason}.",
                        retryable=True,
                    ),
                )
                payload = await store.insert_event(session, event, now)
                await store.finish_run(session, run, event, now)
            if live is not None:
                live.closed = True
                live.last_seq = event.seq
        self._publish(event, payload)
        log.warning("run.interrupted", run_id=run_id, reason=reason)
        return True


def _run_span(event: Event) -> str | None:
    """The run's span (``traceparent``) with its ``started`` (or, on the worker that resumed
    it, ``resumed``) event, when tracing is on: the orchestrator emits it inside the run's
    span, and replays of the stream link to it."""
    return current_traceparent() if isinstance(event, Started | Resumed) else None


def _started_event(question: str, context: RunContext, now: datetime) -> Started:
    """A run's first event, as the orchestrator would emit it (the service writes it with
    the run row, so it is published without waiting for the run's task)."""
    run_id = context.run_id or ""
    return Started(
        run_id=run_id,
        seq=1,
        timestamp=utc_timestamp(now),
        agent_name="system",
        message="Run started",
        data=StartedData(
            progress=0,
            run_id=run_id,
            conversation_id=context.conversation_id,
            question=question,
            user_id=context.user_id,
            metadata=dict(context.metadata),
        ),
    )


def _is_one_run_per_conversation(violation: Violation) -> bool:
    """The partial unique index on running runs, or a message position taken concurrently."""
    if violation.constraint is not None:
        return violation.constraint.startswith(("uq_runs_one_running", "uq_messages", "messages_"))
    return bool(violation.columns) and violation.columns[0].startswith(("runs.", "messages."))
