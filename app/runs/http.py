"""Small HTTP helpers shared by the runs, conversations and datasets controllers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.errors import DomainError
from app.request_body import require_json

__all__ = ["SSE_MEDIA_TYPE", "current_user_id", "require_json", "sse_response"]

SSE_MEDIA_TYPE = "text/event-stream"


def current_user_id(request: Request[Any, Any, Any]) -> str:
    """The signed-in user's id (set by the JWT middleware on every protected route)."""
    user_id = getattr(request.user, "id", None)
    if not isinstance(user_id, str):
        raise DomainError(401, "not_authenticated", "Sign in first.")
    return user_id


def sse_response(
    frames: AsyncGenerator[ServerSentEventMessage, None],
    *,
    headers: dict[str, str] | None = None,
) -> ServerSentEvent:
    """A streamed ``text/event-stream`` response; reconnecting clients wait 3 s."""
    return ServerSentEvent(frames, retry_duration=3000, headers=headers)
