"""Durable runs in the service: checkpoints kept with their events, and claiming a run.

The orchestrator hands its checkpointer a checkpoint just before each boundary event
(:mod:`orchestrator.checkpoint`). :class:`DatabaseCheckpointer` holds it until the run
service writes that event, then :meth:`DatabaseCheckpointer.take` gives it to the same
transaction: a stored event and its checkpoint always go together.

:func:`claim` is how a live worker takes over a run whose worker died (its lease expired or
its process of this host is gone) or handed it over: one conditional UPDATE of the run row
(:func:`app.runs.store.claim_for_resume`), so of two workers exactly one wins, bounded by
``runs.max_resumes``. The winner gets what the run resumes from, rebuilt from the database
(its checkpoint, its highest stored ``seq``, the conversation history and dataset), or, when
the checkpoint cannot be read, the run is ended at once with ``checkpoint_invalid`` in the
claiming transaction, so it can never be claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.conversations import service as conversations
from app.datasets import service as datasets
from app.errors import AppError
from app.runs import store
from app.runs.models import Run
from app.settings import RunSettings
from orchestrator import (
    Checkpoint,
    CheckpointInvalid,
    ErrorData,
    ErrorEvent,
    RunContext,
    decode_checkpoint,
    encode_checkpoint,
    utc_timestamp,
)
from tools.catalog_types import Dataset

__all__ = ["Claimed", "ClosedAtClaim", "DatabaseCheckpointer", "HandedOver", "claim"]


class HandedOver(BaseException):
    """Raised through the orchestrator from ``emit`` once a stopping worker's run has
    committed a checkpoint: the attempt ends there, without a terminal event (like a
    cancellation, not an error the run could report)."""


class DatabaseCheckpointer:
    """The service's :class:`orchestrator.Checkpointer`: a checkpoint waits here until the
    event it belongs to is written (:meth:`take`), in the same transaction."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self._session_maker = session_maker
        self._pending: dict[str, tuple[int, str]] = {}

    async def save(self, checkpoint: Checkpoint) -> None:
        self._pending[checkpoint.run_id] = (
            checkpoint.seq,
            encode_checkpoint(checkpoint).decode(),
        )

    def take(self, run_id: str, seq: int) -> str | None:
        """The checkpoint (JSON) of the run's event ``seq``, if one waits for it; a waiting
        checkpoint of another event is dropped (its event was never written)."""
        pending = self._pending.pop(run_id, None)
        return pending[1] if pending is not None and pending[0] == seq else None

    def forget(self, run_id: str) -> None:
        self._pending.pop(run_id, None)

    async def load(self, run_id: str) -> Checkpoint | None:
        async with self._session_maker() as session:
            payload = await store.load_checkpoint(session, run_id)
        return None if payload is None else decode_checkpoint(payload)


@dataclass(frozen=True, eq=False)
class Claimed:
    """A run this worker claimed, and everything it resumes from."""

    checkpoint: Checkpoint
    reason: str  # "worker_lost" or "handover"
    question: str
    user_id: str
    conversation_id: int
    context: RunContext
    last_seq: int
    progress: int


@dataclass(frozen=True, eq=False)
class ClosedAtClaim:
    """A claimed run whose checkpoint could not be read, ended in the claim's transaction
    (``event`` is its terminal event, ``payload`` as stored, for publishing)."""

    event: ErrorEvent
    payload: str


async def claim(
    session: AsyncSession,
    run_id: str,
    *,
    owner: str | None,
    worker_id: str,
    settings: RunSettings,
    max_history_pairs: int,
    now: datetime,
) -> Claimed | ClosedAtClaim | None:
    """Claim ``run_id`` for ``worker_id`` in the caller's transaction; None if another
    worker has it, it ended, or it has been resumed ``settings.max_resumes`` times.

    ``owner``: the dead worker that holds the run (None: its lease expired).
    """
    run = await session.get(Run, run_id)
    if run is None:
        return None
    reason = "handover" if run.worker_id is None else "worker_lost"
    if not await store.claim_for_resume(
        session,
        run_id,
        now=now,
        owner=owner,
        worker_id=worker_id,
        lease_until=now + timedelta(seconds=settings.lease_s),
        max_resumes=settings.max_resumes,
    ):
        return None
    await session.refresh(run)
    last_seq = await store.max_seq(session, run_id)
    payload = await store.load_checkpoint(session, run_id)
    try:
        checkpoint = (
            decode_checkpoint(payload)
            if payload is not None
            # A run started before checkpoints existed: it resumes by planning again.
            else Checkpoint(
                run_id=run_id, seq=last_seq, progress=run.progress, now=run.created_at.isoformat()
            )
        )
    except CheckpointInvalid as invalid:
        event = _invalid_checkpoint_event(run, last_seq + 1, str(invalid), now)
        stored = await store.insert_event(session, event, now)
        await store.finish_run(session, run, event, now)
        return ClosedAtClaim(event, stored)
    # The database counts the resumes: a worker that dies before its first checkpoint
    # still used one.
    checkpoint.attempt = run.resumes - 1
    # The run's own question is the conversation's last message (no answer yet): asking
    # for one pair more keeps the history the run started with.
    history = await conversations.history_pairs(session, run.conversation_id, max_history_pairs + 1)
    return Claimed(
        checkpoint=checkpoint,
        reason=reason,
        question=run.question,
        user_id=run.user_id,
        conversation_id=run.conversation_id,
        context=RunContext(
            run_id=run_id,
            conversation_id=run.conversation_id,
            user_id=run.user_id,
            history=history[-max_history_pairs:] if max_history_pairs > 0 else [],
            dataset=await _dataset(session, run),
            metadata={"conversation_id": run.conversation_id},
        ),
        last_seq=last_seq,
        progress=max(checkpoint.progress, run.progress),
    )


async def _dataset(session: AsyncSession, run: Run) -> Dataset | None:
    if run.dataset_id is None:
        return None
    try:
        return await datasets.dataset_for_run(session, run.user_id, run.dataset_id)
    except AppError:  # deleted meanwhile (the run row's link is then NULL too)
        return None


def _invalid_checkpoint_event(run: Run, seq: int, why: str, now: datetime) -> ErrorEvent:
    return ErrorEvent(
        run_id=run.id,
        seq=seq,
        timestamp=utc_timestamp(now),
        agent_name="system",
        message="Run failed: its checkpoint could not be read (checkpoint_invalid)",
        data=ErrorData(
            progress=run.progress,
            code="checkpoint_invalid",
            error=f"The run could not be resumed: {why}.",
        ),
    )
