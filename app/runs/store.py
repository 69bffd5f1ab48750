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
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.service import append_message
from app.runs.errors import RunNotFound
from app.runs.models import Run, RunEvent
from orchestrator import Completed, ErrorEvent, Event, encode_event

__all__ = [
    "StoredEvent",
    "claim_for_interrupt",
    "count_running",
    "event_type_of",
    "failure_message",
    "finish_run",
    "insert_event",
    "load_events",
    "max_seq",
    "owned_run",
    "page_of_runs",
    "running_in_conversation",
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
    session: AsyncSession, event: Event, now: datetime, *, trace_parent: str | None = None
) -> str:
    """Persist ``event``; returns the stored JSON payload (the exact bytes replays send).

    ``trace_parent`` (the run's span, with its first event) is stored on the run row."""
    payload = encode_event(event).decode()
    session.add(
        RunEvent(
            run_id=event.run_id,
            seq=event.seq,
            event_type=event_type_of(event),
            payload=payload,
            created_at=now,
        )
    )
    values: dict[str, Any] = {"last_seq": event.seq, "progress": event.data.progress}
    if trace_parent is not None:
        values["trace_parent"] = trace_parent
    plan = getattr(event.data, "plan", None)
    if plan is not None:
        values["plan"] = msgspec.to_builtins(plan)
    await session.flush()
    await session.execute(update(Run).where(Run.id == event.run_id).values(**values))
    return payload


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
