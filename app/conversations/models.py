"""Conversations and their messages.

Both have integer ids assigned by the database (identity on PostgreSQL, AUTOINCREMENT on
SQLite): the predecessor's clients parse them as numbers. Ownership, not the id, guards
access: every read filters on ``user_id``.

Messages carry an explicit ``position`` so order never depends on timestamp resolution;
the run service keeps them strictly alternating user/assistant (one run at a time per
conversation, enforced by a partial unique index on ``runs``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, SerialId, serial_id_column

__all__ = ["Conversation", "Message"]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_user_id_updated_at", "user_id", "updated_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = serial_id_column()
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = serial_id_column()
    conversation_id: Mapped[int] = mapped_column(
        SerialId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
