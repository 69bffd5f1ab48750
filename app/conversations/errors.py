"""The failures of the conversations domain, one class per failure a client may handle.

Each class carries its status, stable ``code``, ``detail`` and when it happens
(:class:`app.errors.AppError`); routes document them through
:func:`app.openapi_errors.error_responses`, and the runs domain raises the same classes when a
question names a conversation, so one code has one class wherever it is sent.
"""

from __future__ import annotations

from typing import ClassVar

from app.errors import AppError

__all__ = ["ConversationError", "ConversationNotFound", "InvalidConversationId"]


class ConversationError(AppError):
    """Base of the conversation failures."""


class ConversationNotFound(ConversationError):
    """The one 404 for a conversation the caller may not see: missing, deleted, another
    user's, or an id out of range all answer exactly this (no existence leak)."""

    status = 404
    code = "conversation_not_found"
    detail = "Conversation not found."
    when: ClassVar[str] = "No such conversation for this user"


class InvalidConversationId(ConversationError):
    """A conversation id that is not an integer at all (``detail`` quotes it)."""

    status = 400
    code = "invalid_conversation_id"
    detail = "Invalid conversation id: a conversation id is a positive integer."
    when: ClassVar[str] = "The conversation id is not an integer or a string of digits"
