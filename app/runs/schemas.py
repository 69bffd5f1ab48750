"""Request and response bodies of the question and run endpoints (the HTTP contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from app.conversations.ids import CONVERSATION_ID_SCHEMAS
from app.patterns import NON_BLANK
from orchestrator import DataSourceRef, PlanStepRef, RunUsage

__all__ = [
    "AskRequest",
    "AskResponse",
    "AssistantReply",
    "ContinueRequest",
    "RunError",
    "RunList",
    "RunStatus",
    "RunTicket",
    "RunView",
]

RunStatus = Literal["running", "completed", "failed", "cancelled", "interrupted"]


# The question is checked by the run service (``invalid_question``, ``question_too_long``,
# with their own codes), so its constraints are documented, not enforced, here; the length
# limit is configuration and is added to the document by app.openapi_contract.
Question = Annotated[
    str,
    msgspec.Meta(extra_json_schema={"extra": {"min_length": 1, "pattern": NON_BLANK}}),
]


class AskRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /ask`` and ``POST /ask-stream``: a question, optionally continuing a conversation."""

    question: Question
    # An integer; a string of digits is accepted too (legacy clients send either), see
    # app.conversations.ids.parse_conversation_id.
    conversation_id: Annotated[
        int | str | None,
        msgspec.Meta(extra_json_schema={"extra": {"one_of": CONVERSATION_ID_SCHEMAS}}),
    ] = None
    dataset_id: str | None = None


class ContinueRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /conversations/{id}/messages``: the conversation comes from the path."""

    question: Question
    dataset_id: str | None = None


class AssistantReply(msgspec.Struct, kw_only=True):
    role: Literal["assistant"] = "assistant"
    content: str


class RunError(msgspec.Struct, kw_only=True):
    code: str
    detail: str


class AskResponse(msgspec.Struct, kw_only=True):
    """``status`` is ``"Success"`` for a completed run, ``"Error"`` when it failed (the
    message then says what failed and ``error`` carries the stable code)."""

    status: Literal["Success", "Error"]
    message: AssistantReply
    run_id: str
    conversation_id: int
    plan: list[PlanStepRef]
    usage: RunUsage | None
    sources: list[DataSourceRef]
    error: RunError | None = None


class RunView(msgspec.Struct, kw_only=True):
    id: str
    conversation_id: int
    question: str
    status: RunStatus
    progress: int
    last_seq: int
    plan: list[PlanStepRef]
    report: str | None
    usage: RunUsage | None
    sources: list[DataSourceRef]
    error: RunError | None
    dataset_id: str | None
    created_at: datetime
    finished_at: datetime | None


class RunList(msgspec.Struct, kw_only=True):
    runs: list[RunView]
    total: int
    limit: int
    offset: int


class RunTicket(msgspec.Struct, kw_only=True):
    """A signed, run-scoped credential for ``GET /runs/{id}/events?ticket=…``."""

    ticket: str
    expires_at: datetime
    events_url: str
