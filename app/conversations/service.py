"""The conversations domain's reads and writes: every query of ``conversations`` and
``messages`` lives here.

Two shapes, for two kinds of caller. :class:`ConversationService` serves the history
endpoints and owns its sessions. The module functions take the caller's ``AsyncSession``
and expect the caller to own the transaction: the run service starts a conversation, reads
its history and appends messages inside the same transaction as the run row it writes, so
those statements must run in that transaction, not in one of their own.

Every lookup filters on the owner, so another user's id is the same 404, body and all, as a
missing one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.conversations.ids import conversation_not_found
from app.conversations.models import Conversation, Message
from app.conversations.schemas import ConversationDetail, ConversationView, MessageView
from orchestrator import HistoryPair

__all__ = [
    "ConversationService",
    "append_message",
    "assistant_reply",
    "conversation_exists",
    "history_pairs",
    "new_conversation",
    "owned_conversation",
]

# A new conversation's title: the start of its first question.
_TITLE_CHARS = 50


def _view(conversation: Conversation) -> ConversationView:
    return ConversationView(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        user_id=conversation.user_id,
    )


def _message_view(message: Message) -> MessageView:
    return MessageView(
        id=message.id,
        conversation_id=message.conversation_id,
        role="user" if message.role == "user" else "assistant",
        content=message.content,
        timestamp=message.created_at,
        run_id=message.run_id,
    )


class ConversationService:
    """The history endpoints' operations, each in its own session."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_maker

    async def list_for(self, user_id: str) -> list[ConversationView]:
        """The user's conversations, most recently updated first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Conversation)
                .where(Conversation.user_id == user_id)
                .order_by(Conversation.updated_at.desc(), Conversation.id)
            )
            return [_view(row) for row in rows]

    async def detail(self, conversation_id: int, user_id: str) -> ConversationDetail:
        """One conversation and its messages, oldest first; 404 if the user has no such one."""
        async with self._sessions() as session:
            conversation = await owned_conversation(session, conversation_id, user_id)
            messages = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.position)
            )
            return ConversationDetail(
                conversation=_view(conversation),
                messages=[_message_view(message) for message in messages],
            )

    async def require_owned(self, conversation_id: int, user_id: str) -> None:
        """404 ``conversation_not_found`` unless the user has this conversation."""
        async with self._sessions() as session:
            await owned_conversation(session, conversation_id, user_id)

    async def delete(self, conversation_id: int, user_id: str) -> None:
        """Delete the conversation; its messages, runs and events go with it (cascade)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(Conversation).where(
                    Conversation.id == conversation_id, Conversation.user_id == user_id
                )
            )


# -- statements for a caller's transaction ---------------------------------------------------


async def owned_conversation(
    session: AsyncSession, conversation_id: int, user_id: str
) -> Conversation:
    """The user's conversation; 404 ``conversation_not_found`` otherwise (no existence leak)."""
    found = await session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
    )
    if found is None:
        raise conversation_not_found()
    return found


async def new_conversation(
    session: AsyncSession, user_id: str, first_question: str, now: datetime
) -> Conversation:
    """A new conversation titled after its first question (flushed: it has its id)."""
    conversation = Conversation(
        user_id=user_id,
        title=first_question.strip()[:_TITLE_CHARS],
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def conversation_exists(session: AsyncSession, conversation_id: int) -> bool:
    return await session.get(Conversation, conversation_id) is not None


async def _next_position(session: AsyncSession, conversation_id: int) -> int:
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
    """Add a message after the conversation's last one and mark the conversation updated."""
    message = Message(
        conversation_id=conversation_id,
        position=await _next_position(session, conversation_id),
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


async def assistant_reply(session: AsyncSession, run_id: str) -> str | None:
    """The assistant message a run stored (its report, or what failed), if it ended."""
    return await session.scalar(
        select(Message.content).where(Message.run_id == run_id, Message.role == "assistant")
    )
