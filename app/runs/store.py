"""Database reads and writes of runs, their events and the conversation they belong to.

Plain functions over an ``AsyncSession`` so the run service (background tasks), the HTTP
handlers and the recovery sweep share one definition of each statement. Every function
expects the caller to own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.models import Conversation, Message
from app.runs.models import Run, RunEvent
from orchestrator import Completed, ErrorEvent, Event, HistoryPair, encode_event

__all__ = [
    "StoredEvent",
    "append_message",
    "claim_for_interrupt",
    "count_running",
    "event_type_of",
    "failure_message",
    "finish_run",
    "history_pairs",
    "insert_event",
    "load_events",
    "max_seq",
    "next_position",
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


async def insert_event(session: AsyncSession, event: Event, now: datetime) -> str:
    """Persist ``event``; returns the stored JSON payload (the exact bytes replays send)."""
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


async def next_position(session: AsyncSession, conversation_id: int) -> int:
    current = await session.scalar(
        select(func.max(Message.position)).where(Message.conversation_id == conversation_id)
    )
    return 0 if current is None else current + 1


async def append_message(
    session: AsyncSession,
    conversation_id: int,
    role: str,
    content: str,
    run_id: str | None,
    now: datetime,
) -> Message:
    message = Message(
        conversation_id=conversation_id,
        position=await next_position(session, conversation_id),
        role=role,
        content=content,
        run_id=run_id,
        created_at=now,
    )
    session.add(message)
    await session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(updated_at=now)
    )
    await session.flush()
    return message


async def history_pairs(
    session: AsyncSession, conversation_id: int, max_pairs: int
) -> list[HistoryPair]:
    """The newest ``max_pairs`` question/answer pairs of a conversation, oldest first."""
    if max_pairs <= 0:
        return []
    rows = (
        await session.execute(
            select(Message.role, Message.content)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.position.desc())
            .limit(max_pairs * 2)
        )
    ).all()
    ordered = list(reversed(rows))
    pairs: list[HistoryPair] = []
    for index in range(len(ordered) - 1):
        (role, content), (next_role, next_content) = ordered[index], ordered[index + 1]
        if role == "user" and next_role == "assistant":
            pairs.append(HistoryPair(question=content, answer=next_content))
    return pairs[-max_pairs:]


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
