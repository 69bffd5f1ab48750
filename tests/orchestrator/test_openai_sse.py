"""The incremental SSE parser: any chunking of a stream yields the same frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.providers._openai_sse import SSEFrame, iter_sse_frames


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _frames(parts: Iterable[bytes]) -> list[SSEFrame]:
    return [frame async for frame in iter_sse_frames(_chunks(parts))]


STREAM = (
    b'event: response.created\ndata: {"a":1}\n\n'
    b": a comment line\n\n"
    b'data: {"b":2}\n\n'
    b"event: multi\ndata: line one\ndata: line two\nid: 7\nretry: 10\n\n"
    b"data:no-space\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    (b"response.created", b'{"a":1}'),
    (b"", b'{"b":2}'),
    (b"multi", b"line one\nline two"),
    (b"", b"no-space"),
    (b"", b"[DONE]"),
]


async def test_whole_stream_in_one_chunk() -> None:
    assert await _frames([STREAM]) == EXPECTED


async def test_crlf_and_cr_line_endings() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    cr = STREAM.replace(b"\n", b"\r")
    assert await _frames([crlf]) == EXPECTED
    assert await _frames([cr]) == EXPECTED


async def test_crlf_split_between_chunks() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    cut = crlf.index(b"\r\n") + 1  # chunk ends with a lone CR
    assert await _frames([crlf[:cut], crlf[cut:]]) == EXPECTED


async def test_trailing_event_without_blank_line_is_dropped() -> None:
    # A truncated stream must not look complete.
    assert await _frames([b'data: {"a":1}\n\ndata: {"partial"']) == [(b"", b'{"a":1}')]


@given(
    cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12),
    crlf=st.booleans(),
)
def test_any_chunking_gives_the_same_frames(cuts: list[int], crlf: bool) -> None:
    data = STREAM.replace(b"\n", b"\r\n") if crlf else STREAM
    points = sorted({min(c, len(data)) for c in cuts})
    parts = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert asyncio.run(_frames(parts)) == EXPECTED
