"""Run rows and their persisted events.

``run_events`` keeps every event exactly as it was encoded (``payload`` is the event JSON),
so a replay sends byte-identical data. ``worker_id`` + ``lease_expires_at`` tell which
process executes a running run and whether it is still alive (its heartbeat refreshes the
lease); a partial unique index allows one running run per conversation, which keeps the
conversation's messages alternating.

``run_checkpoints`` holds each running run's newest checkpoint
(:class:`orchestrator.Checkpoint` as JSON), written in the transaction of the boundary event
numbered ``seq``; ``runs.resumes`` counts the times another worker claimed the run to
continue it from there (bounded by ``runs.max_resumes``).

``trace_parent`` is the run's OpenTelemetry span (``traceparent`` form, set with its first
event when tracing is on, see ``app.telemetry``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, SerialId, id_column

__all__ = ["Run", "RunCheckpoint", "RunEvent"]


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_user_id_created_at", "user_id", "created_at"),
        Index("ix_runs_status_lease_expires_at", "status", "lease_expires_at"),
        Index(
            "uq_runs_one_running_per_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(
        SerialId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    dataset_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("datasets.id", ondelete="SET NULL")
    )
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=-1)
    plan: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    report: Mapped[str | None] = mapped_column(Text)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    resumes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # W3C traceparent of the run's span (tracing on): replays of its stream link to it.
    trace_parent: Mapped[str | None] = mapped_column(String(55))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class RunEvent(Base):
    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class RunCheckpoint(Base):
    __tablename__ = "run_checkpoints"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
