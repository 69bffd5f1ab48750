"""Database reads and writes of runs and their events.

Plain functions over an ``AsyncSession`` so the run service (background tasks), the HTTP
handlers and the recovery sweep share one definition of each statement. Every function
expects the caller to own the transaction. The messages a run writes into its conversation
go through the conversations domain (:mod:`app.conversations.service`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.service import append_message
from app.runs.errors import RunNotFound
from app.runs.models import Run, RunCheckpoint, RunEvent
from orchestrator import Completed, ErrorEvent, Event, encode_event

__all__ = [
    "RunNotOwned",
    "StoredEvent",
    "claim_for_interrupt",
    "claim_for_resume",
    "count_running",
    "event_type_of",
    "failure_message",
    "finish_run",
    "insert_event",
    "load_checkpoint",
    "load_events",
    "max_seq",
    "owned_run",
    "page_of_runs",
    "release_for_handover",
    "running_in_conversation",
    "save_checkpoint",
    "status_of",
    "terminal_status",
]


class StoredEvent(msgspec.Struct, frozen=True):
    """One persisted event: enough to write an SSE frame without re-encoding."""

    seq: int
    event_type: str
    payload: str


def event_type_of(event: Event) -> str:
    """The ``event_type`` tag of an event (msgspec tags are not attributes)."""
    return str(event.__struct_config__.tag)


def terminal_status(event: Completed | ErrorEvent) -> str:
    """The run status a terminal event implies."""
    if isinstance(event, Completed):
        return "completed"
    if event.data.code in ("cancelled", "interrupted"):
        return event.data.code
    return "failed"


def failure_message(event: ErrorEvent) -> str:
    """The assistant message stored when a run ends without a report (says what failed)."""
    code = event.data.code
    if code == "cancelled":
        return "**The run was cancelled** before it produced a report."
    if code == "interrupted":
        return (
            "**The run was interrupted** (the server stopped while it was running). "
            "Ask the question again to get a report."
        )
    return f"**I could not finish this report.** {event.data.error} (error code `{code}`)"


async def insert_event(
    session: AsyncSession,
    event: Event,
    now: datetime,
    *,
    owner: str | None = None,
    trace_parent: str | None = None,
    payload: str | None = None,
) -> str:
    """Persist ``event``; returns the stored JSON payload (the exact bytes replays send).

    ``payload``: the event already encoded (``encode_event``), so a caller can encode it
    before taking the write lock.

    ``owner``: the worker writing it, which must still hold the run (fencing: a worker whose
    run was claimed by another after its lease lapsed must not write again). The run row is
    updated first, so its row lock orders the run's writers; :class:`RunNotOwned` if the
    run is no longer this worker's. ``trace_parent`` (the run's span, with its first event)
    is stored on the run row.
    """
    if payload is None:
        payload = encode_event(event).decode()
    values: dict[str, Any] = {"last_seq": event.seq, "progress": event.data.progress}
    if trace_parent is not None:
        values["trace_parent"] = trace_parent
    plan = getattr(event.data, "plan", None)
    if plan is not None:
        values["plan"] = msgspec.to_builtins(plan)
    condition = Run.id == event.run_id
    if owner is not None:
        condition &= Run.worker_id == owner
    result = await session.execute(
        update(Run).where(condition).values(**values).execution_options(synchronize_session=False)
    )
    if owner is not None and getattr(result, "rowcount", 0) != 1:
        raise RunNotOwned(event.run_id)
    session.add(
        RunEvent(
            run_id=event.run_id,
            seq=event.seq,
            event_type=event_type_of(event),
            payload=payload,
            created_at=now,
        )
    )
    await session.flush()
    return payload


class RunNotOwned(Exception):
    """The run is no longer the writing worker's (another worker claimed it)."""


async def finish_run(
    session: AsyncSession, run: Run, event: Completed | ErrorEvent, now: datetime
) -> None:
    """Close ``run`` with its terminal event: run row, assistant message, conversation time."""
    run.status = terminal_status(event)
    run.finished_at = now
    run.lease_expires_at = None
    run.progress = event.data.progress
    run.last_seq = event.seq
    if isinstance(event, Completed):
        run.report = event.data.full_content
        run.plan = msgspec.to_builtins(event.data.plan)
        run.usage = msgspec.to_builtins(event.data.usage)
        run.sources = msgspec.to_builtins(event.data.sources)
        content = event.data.full_content
    else:
        run.error_code = event.data.code
        run.error_message = event.data.error
        if event.data.plan is not None:
            run.plan = msgspec.to_builtins(event.data.plan)
        if event.data.usage is not None:  # a failed run still paid for its LLM calls
            run.usage = msgspec.to_builtins(event.data.usage)
        content = failure_message(event)
    await session.execute(delete(RunCheckpoint).where(RunCheckpoint.run_id == run.id))
    await append_message(session, run.conversation_id, "assistant", content, run.id, now)


async def owned_run(session: AsyncSession, run_id: str, user_id: str) -> Run:
    """The run if ``user_id`` owns it; 404 ``run_not_found`` otherwise (no existence leak)."""
    run = await session.scalar(select(Run).where(Run.id == run_id, Run.user_id == user_id))
    if run is None:
        raise RunNotFound()
    return run


async def page_of_runs(
    session: AsyncSession, user_id: str, *, limit: int, offset: int
) -> tuple[int, Sequence[Run]]:
    """(How many runs the user has, the page of them at ``offset``), newest first."""
    total = await session.scalar(
        select(func.count()).select_from(Run).where(Run.user_id == user_id)
    )
    rows = await session.scalars(
        select(Run)
        .where(Run.user_id == user_id)
        .order_by(Run.created_at.desc(), Run.id)
        .limit(limit)
        .offset(offset)
    )
    return int(total or 0), rows.all()


async def running_in_conversation(session: AsyncSession, conversation_id: int) -> list[str]:
    """The ids of the conversation's running runs."""
    rows = await session.scalars(
        select(Run.id).where(Run.conversation_id == conversation_id, Run.status == "running")
    )
    return list(rows.all())


async def count_running(session: AsyncSession, user_id: str, exclude_worker: str) -> int:
    """Running runs of ``user_id`` executed by other processes (this one counts its own)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Run)
        .where(
            Run.user_id == user_id,
            Run.status == "running",
            (Run.worker_id != exclude_worker) | Run.worker_id.is_(None),
        )
    )
    return int(count or 0)


async def load_events(
    session: AsyncSession, run_id: str, *, after: int, before: int | None = None
) -> Sequence[StoredEvent]:
    """Events of ``run_id`` with ``after < seq`` (and ``seq < before``), in order."""
    query = select(RunEvent.seq, RunEvent.event_type, RunEvent.payload).where(
        RunEvent.run_id == run_id, RunEvent.seq > after
    )
    if before is not None:
        query = query.where(RunEvent.seq < before)
    rows = (await session.execute(query.order_by(RunEvent.seq))).all()
    return [StoredEvent(seq, event_type, payload) for seq, event_type, payload in rows]


async def max_seq(session: AsyncSession, run_id: str) -> int:
    """The highest stored seq of a run (0 when it has no events yet)."""
    current = await session.scalar(select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id))
    return int(current or 0)


async def status_of(session: AsyncSession, run_id: str) -> str | None:
    return await session.scalar(select(Run.status).where(Run.id == run_id))


async def claim_for_interrupt(
    session: AsyncSession,
    run_id: str,
    *,
    now: datetime,
    owner: str | None,
) -> bool:
    """Atomically move a running run to ``interrupted``; True if this caller won it.

    ``owner`` set: only if this worker owns the run (shutdown). ``owner`` None: only if its
    lease has expired (its process died). The conditional UPDATE is the lock: of two
    workers sweeping the same stale run, exactly one sees a row count of 1.
    """
    condition = (Run.id == run_id) & (Run.status == "running")
    if owner is not None:
        condition &= Run.worker_id == owner
    else:
        condition &= Run.lease_expires_at < now
    result = await session.execute(
        update(Run)
        .where(condition)
        .values(status="interrupted", lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def save_checkpoint(
    session: AsyncSession, run_id: str, seq: int, payload: str, now: datetime
) -> None:
    """Replace the run's checkpoint (one row per run; only the run's owner writes it)."""
    result = await session.execute(
        update(RunCheckpoint)
        .where(RunCheckpoint.run_id == run_id)
        .values(seq=seq, payload=payload, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.add(RunCheckpoint(run_id=run_id, seq=seq, payload=payload, updated_at=now))
        await session.flush()


async def load_checkpoint(session: AsyncSession, run_id: str) -> str | None:
    """The run's newest checkpoint (JSON), None if it has none."""
    return await session.scalar(select(RunCheckpoint.payload).where(RunCheckpoint.run_id == run_id))


async def claim_for_resume(
    session: AsyncSession,
    run_id: str,
    *,
    now: datetime,
    owner: str | None,
    worker_id: str,
    lease_until: datetime,
    max_resumes: int,
) -> bool:
    """Atomically take over a running run to resume it; True if this caller won it.

    The same conditions as :func:`claim_for_interrupt` (``owner``: the dead worker that
    holds it; None: its lease expired), and the run has been resumed fewer than
    ``max_resumes`` times. One conditional UPDATE: of two workers claiming the same run,
    exactly one sees a row count of 1 (PostgreSQL re-checks the WHERE clause after the row
    lock; SQLite has one writer at a time).
    """
    condition = (Run.id == run_id) & (Run.status == "running") & (Run.resumes < max_resumes)
    if owner is not None:
        condition &= Run.worker_id == owner
    else:
        condition &= Run.lease_expires_at < now
    result = await session.execute(
        update(Run)
        .where(condition)
        .values(worker_id=worker_id, lease_expires_at=lease_until, resumes=Run.resumes + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def release_for_handover(
    session: AsyncSession, run_ids: Sequence[str], *, worker_id: str, now: datetime
) -> int:
    """Give runs of a stopping worker up: no owner, lease expired, so a live worker's next
    sweep claims them (``worker_id`` NULL tells it the run was handed over). Returns how
    many were still this worker's."""
    if not run_ids:
        return 0
    result = await session.execute(
        update(Run)
        .where(Run.id.in_(run_ids), Run.worker_id == worker_id, Run.status == "running")
        .values(worker_id=None, lease_expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
