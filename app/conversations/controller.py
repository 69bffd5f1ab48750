"""Conversation history: list, read, delete, and continue a conversation (SSE).

Conversation and message ids are JSON integers. The path takes the id as text and parses it
itself (:mod:`app.conversations.ids`), so a non-numeric id (``NaN`` from a legacy client's
``parseInt``) is a 400 that says so rather than an unmatched route; and every lookup filters
on the caller, so another user's id is the same 404, body and all, as a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import JSONBody, PathParameter
from litestar.response import Stream
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.ids import (
    ID_TEXT_PATTERN,
    INVALID_CONVERSATION_ID,
    conversation_not_found,
    parse_conversation_id,
)
from app.conversations.models import Conversation, Message
from app.openapi_errors import SSE_ERRORS, error_responses
from app.runs.controller import START_RUN_ERRORS, start_stream
from app.runs.http import SSE_MEDIA_TYPE, current_user_id, require_json
from app.runs.models import Run
from app.runs.runtime import RunsRuntime
from app.runs.schemas import ContinueRequest

__all__ = ["ConversationsController"]

_NO_CONVERSATION = (404, "No such conversation for this user (`conversation_not_found`)")
# Text, parsed by the handler: a non-numeric id is a 400 `invalid_conversation_id`, not a 404
# of an unmatched route.
ConversationIdPath = Annotated[
    str,
    PathParameter(
        description="The conversation's id, an integer (in the path as digits, e.g. `42`).",
        examples=[Example(value="42")],
        schema_extra={"pattern": ID_TEXT_PATTERN},
    ),
]


class ConversationView(msgspec.Struct, kw_only=True):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    user_id: str


class MessageView(msgspec.Struct, kw_only=True):
    id: int
    conversation_id: int
    role: Literal["user", "assistant"]
    content: str
    timestamp: datetime
    run_id: str | None


class ConversationList(msgspec.Struct, kw_only=True):
    conversations: list[ConversationView]


class ConversationDetail(msgspec.Struct, kw_only=True):
    conversation: ConversationView
    messages: list[MessageView]


class Deleted(msgspec.Struct, kw_only=True):
    message: str


def _view(conversation: Conversation) -> ConversationView:
    return ConversationView(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        user_id=conversation.user_id,
    )


async def _owned(session: AsyncSession, conversation_id: int, user_id: str) -> Conversation:
    found = await session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
    )
    if found is None:
        raise conversation_not_found()
    return found


class ConversationsController(Controller):
    path = "/conversations"
    tags = ["conversations"]

    @get(["/", ""], responses=error_responses(401, 503))
    async def list_conversations(
        self, request: Request[Any, Any, Any], runs_runtime: NamedDependency[RunsRuntime]
    ) -> ConversationList:
        """The caller's conversations, most recently updated first."""
        async with runs_runtime.service.session_maker() as session:
            rows = await session.scalars(
                select(Conversation)
                .where(Conversation.user_id == current_user_id(request))
                .order_by(Conversation.updated_at.desc(), Conversation.id)
            )
            return ConversationList(conversations=[_view(row) for row in rows])

    @get(
        "/{conversation_id:str}",
        responses=error_responses(INVALID_CONVERSATION_ID, 401, _NO_CONVERSATION, 503),
    )
    async def get_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationIdPath,
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> ConversationDetail:
        """One conversation and its messages (alternating user/assistant, oldest first)."""
        async with runs_runtime.service.session_maker() as session:
            conversation = await _owned(
                session, parse_conversation_id(conversation_id), current_user_id(request)
            )
            messages = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.position)
            )
            return ConversationDetail(
                conversation=_view(conversation),
                messages=[
                    MessageView(
                        id=m.id,
                        conversation_id=m.conversation_id,
                        role="user" if m.role == "user" else "assistant",
                        content=m.content,
                        timestamp=m.created_at,
                        run_id=m.run_id,
                    )
                    for m in messages
                ],
            )

    @delete(
        "/{conversation_id:str}",
        status_code=200,
        responses=error_responses(INVALID_CONVERSATION_ID, 401, _NO_CONVERSATION, 503),
    )
    async def delete_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationIdPath,
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> Deleted:
        """Delete a conversation with its messages, runs and events (a running run is
        cancelled first)."""
        service = runs_runtime.service
        user_id = current_user_id(request)
        async with service.session_maker() as session:
            conversation = await _owned(session, parse_conversation_id(conversation_id), user_id)
            running = (
                await session.scalars(
                    select(Run.id).where(
                        Run.conversation_id == conversation.id, Run.status == "running"
                    )
                )
            ).all()
        for run_id in running:
            await service.cancel(run_id)
        async with service.session_maker() as session, session.begin():
            await session.execute(
                sql_delete(Conversation).where(
                    Conversation.id == conversation.id, Conversation.user_id == user_id
                )
            )
        return Deleted(message="Conversation deleted successfully")

    @post(
        "/{conversation_id:str}/messages",
        status_code=200,
        media_type=SSE_MEDIA_TYPE,
        guards=[require_json],
        description="Ask a follow-up in this conversation (earlier Q/A pairs go along as "
        f"history); the response streams the run's events like `/ask-stream`. {SSE_ERRORS}",
        responses=error_responses(
            401,
            (
                404,
                "No such conversation, or no such dataset, for this user "
                "(`conversation_not_found`, `dataset_not_found`)",
            ),
            *START_RUN_ERRORS,
        ),
    )
    async def continue_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationIdPath,
        data: JSONBody[ContinueRequest],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> Stream:
        """Ask a follow-up in this conversation (earlier Q/A pairs go along as history);
        the response streams the run's events like ``/ask-stream``."""
        return await start_stream(
            runs_runtime,
            user_id=current_user_id(request),
            question=data.question,
            conversation_id=parse_conversation_id(conversation_id),
            dataset_id=data.dataset_id,
        )
