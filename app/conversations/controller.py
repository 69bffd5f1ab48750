"""Conversation history: list, read, delete, and continue a conversation (SSE).

Conversation and message ids are JSON integers. The path takes the id as text and parses it
itself (:mod:`app.conversations.ids`), so a non-numeric id (``NaN`` from a legacy client's
``parseInt``) is a 400 that says so rather than an unmatched route; and every lookup filters
on the caller, so another user's id is the same 404, body and all, as a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import JSONBody, PathParameter
from litestar.response import Stream

from app.conversations.errors import ConversationNotFound, InvalidConversationId
from app.conversations.ids import ID_TEXT_PATTERN, parse_conversation_id
from app.conversations.schemas import (
    ConversationDetail,
    ConversationList,
    Deleted,
    DeletedResponse,
)
from app.conversations.service import ConversationService
from app.datasets.errors import DatasetNotFound
from app.openapi_errors import SSE_ERRORS, error_responses
from app.runs.controller import START_RUN_ERRORS, start_stream
from app.runs.http import SSE_MEDIA_TYPE, current_user_id, require_json
from app.runs.runtime import RunsRuntime
from app.runs.schemas import ContinueRequest

__all__ = ["ConversationsController"]

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


class ConversationsController(Controller):
    path = "/conversations"
    tags = ["conversations"]

    @get(["/", ""], responses=error_responses(401, 503))
    async def list_conversations(
        self,
        request: Request[Any, Any, Any],
        conversation_service: NamedDependency[ConversationService],
    ) -> ConversationList:
        """The caller's conversations, most recently updated first."""
        return ConversationList(
            conversations=await conversation_service.list_for(current_user_id(request))
        )

    @get(
        "/{conversation_id:str}",
        responses=error_responses(InvalidConversationId, 401, ConversationNotFound, 503),
    )
    async def get_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationIdPath,
        conversation_service: NamedDependency[ConversationService],
    ) -> ConversationDetail:
        """One conversation and its messages (alternating user/assistant, oldest first)."""
        return await conversation_service.detail(
            parse_conversation_id(conversation_id), current_user_id(request)
        )

    @delete(
        "/{conversation_id:str}",
        status_code=200,
        responses=error_responses(InvalidConversationId, 401, ConversationNotFound, 503),
    )
    async def delete_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationIdPath,
        conversation_service: NamedDependency[ConversationService],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> DeletedResponse:
        """Delete a conversation with its messages, runs and events (a running run is
        cancelled first)."""
        user_id = current_user_id(request)
        parsed_id = parse_conversation_id(conversation_id)
        await conversation_service.require_owned(parsed_id, user_id)
        for run_id in await runs_runtime.reads.running_in(parsed_id):
            await runs_runtime.service.cancel(run_id)
        await conversation_service.delete(parsed_id, user_id)
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
            ConversationNotFound,
            DatasetNotFound,
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
