"""Small HTTP helpers shared by the runs, conversations and datasets controllers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.errors import DomainError

__all__ = ["SSE_MEDIA_TYPE", "current_user_id", "require_json", "sse_response"]

SSE_MEDIA_TYPE = "text/event-stream"


def current_user_id(request: Request[Any, Any, Any]) -> str:
    """The signed-in user's id (set by the JWT middleware on every protected route)."""
    user_id = getattr(request.user, "id", None)
    if not isinstance(user_id, str):
        raise DomainError(401, "not_authenticated", "Sign in first.")
    return user_id


def require_json(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a JSON body must be declared as JSON (``415`` otherwise, before parsing)."""
    content_type = connection.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise DomainError(
            415,
            "unsupported_media_type",
            f"Send the body as application/json (got {media_type or 'no content type'}).",
        )


def sse_response(
    frames: AsyncGenerator[ServerSentEventMessage, None],
    *,
    headers: dict[str, str] | None = None,
) -> ServerSentEvent:
    """A streamed ``text/event-stream`` response; reconnecting clients wait 3 s."""
    return ServerSentEvent(frames, retry_duration=3000, headers=headers)
