"""A strict parser for ``text/event-stream`` bodies, the way the product's clients read them:
split on lines, one JSON object per ``data:`` line, ``id:`` and ``event:`` per block."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["SSEFrame", "parse_sse", "split_blocks"]


class SSEFrame(msgspec.Struct, kw_only=True):
    id: str | None = None
    event: str | None = None
    data: list[str] = msgspec.field(default_factory=list)
    comments: list[str] = msgspec.field(default_factory=list)
    retry: int | None = None

    @property
    def envelope(self) -> dict[str, Any]:
        """The single ``data:`` line decoded; fails unless there is exactly one."""
        assert len(self.data) == 1, f"expected one data line, got {self.data!r}"
        decoded: dict[str, Any] = msgspec.json.decode(self.data[0])
        return decoded

    @property
    def event_body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.envelope["event"]
        return body


def split_blocks(text: str) -> list[str]:
    """Complete blocks (terminated by a blank line) of a possibly partial stream."""
    normalized = text.replace("\r\n", "\n")
    return [block for block in normalized.split("\n\n")[:-1] if block]


def parse_sse(text: str) -> list[SSEFrame]:
    """Every complete block of ``text`` as a frame (comments-only blocks included)."""
    frames: list[SSEFrame] = []
    for block in split_blocks(text):
        frame = SSEFrame()
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                frame.comments.append(value)
            elif field == "id":
                frame.id = value
            elif field == "event":
                frame.event = value
            elif field == "data":
                frame.data.append(value)
            elif field == "retry":
                frame.retry = int(value)
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        frames.append(frame)
    return frames
