"""A small incremental Server-Sent Events parser over raw response bytes.

Why our own: the SDK builds a pydantic model for every stream event, which dominates client CPU
on a streamed run. We only need each event's ``event:`` name and ``data:`` payload as bytes, so
the providers can skip events they ignore without decoding them and decode the rest straight
into msgspec Structs. Comments, ``id:`` and ``retry:`` fields are ignored (we never reconnect
a model stream; a failed call is retried as a whole by the state machine).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable

__all__ = ["SSEFrame", "iter_sse_frames"]

# (event name or b"" when the server sent none, data payload)
SSEFrame = tuple[bytes, bytes]


def _parse_block(block: bytes) -> SSEFrame | None:
    """One event block (lines without the blank separator) → frame, or None without data."""
    event = b""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            value = line[6:]
            event = value[1:] if value.startswith(b" ") else value
    if not data:
        return None
    return event, data[0] if len(data) == 1 else b"\n".join(data)


async def iter_sse_frames(chunks: AsyncIterable[bytes]) -> AsyncGenerator[SSEFrame, None]:
    """Yield ``(event, data)`` for each complete event in a byte stream of any chunking.

    Line endings ``\\r\\n``, ``\\n`` and ``\\r`` are all accepted (the SSE spec allows each).
    A trailing event without its blank line is dropped, as the spec requires: a truncated
    stream must not look complete.
    """
    buffer = b""
    pending_cr = False
    async for chunk in chunks:
        if not chunk:
            continue
        if pending_cr:
            chunk = b"\r" + chunk
            pending_cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                # A lone trailing CR may be the first half of CRLF split across chunks.
                chunk = chunk[:-1]
                pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        frames, buffer = _take_frames(buffer + chunk)
        for frame in frames:
            yield frame
    if pending_cr:  # the stream's last byte was a CR line ending
        frames, _rest = _take_frames(buffer + b"\n")
        for frame in frames:
            yield frame


def _take_frames(buffer: bytes) -> tuple[list[SSEFrame], bytes]:
    """The complete frames in ``buffer`` and the unconsumed rest."""
    out: list[SSEFrame] = []
    start = 0
    while True:
        end = buffer.find(b"\n\n", start)
        if end < 0:
            break
        frame = _parse_block(buffer[start:end])
        start = end + 2
        if frame is not None:
            out.append(frame)
    return out, buffer[start:]
