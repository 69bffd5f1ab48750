"""Small HTTP helpers shared by the runs, conversations and datasets controllers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.response import Stream

from app.errors import NotAuthenticated
from app.request_body import require_json
from app.runs.frames import RETRY_FRAME

__all__ = ["SSE_MEDIA_TYPE", "current_user_id", "require_json", "sse_response"]

SSE_MEDIA_TYPE = "text/event-stream"


def current_user_id(request: Request[Any, Any, Any]) -> str:
    """The signed-in user's id (set by the JWT middleware on every protected route)."""
    user_id = getattr(request.user, "id", None)
    if not isinstance(user_id, str):
        raise NotAuthenticated()
    return user_id


async def _with_retry(frames: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    yield RETRY_FRAME
    async with contextlib.aclosing(frames):
        async for frame in frames:
            yield frame


def sse_response(
    frames: AsyncGenerator[bytes, None],
    *,
    headers: dict[str, str] | None = None,
) -> Stream:
    """A ``text/event-stream`` response of finished frames (see ``app.runs.frames``).

    Litestar's ``ServerSentEvent`` would re-encode every message for every subscriber; the
    frames here are encoded once per event and written as they are. The stream starts with
    a ``retry:`` field, so a reconnecting ``EventSource`` waits 3 s.
    """
    return Stream(
        _with_retry(frames),
        media_type=SSE_MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", **(headers or {})},
    )
